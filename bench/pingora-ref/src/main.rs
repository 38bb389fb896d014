//! Benchmark reference: Pingora's own `ProxyHttp` as a plain pass-through, with the same
//! threads and allocator as Aether, so the cost of Pingora's HTTP/1 stack can be told apart
//! from the cost of what Aether adds on top of it.
//!
//! Usage: `pingora-ref LISTEN_ADDR UPSTREAM_ADDR`.

use async_trait::async_trait;
use pingora::prelude::*;
use pingora::proxy::{ProxyHttp, Session, http_proxy_service};
use pingora::server::configuration::ServerConf;

#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

struct PassThrough(std::net::SocketAddr);

#[async_trait]
impl ProxyHttp for PassThrough {
    type CTX = ();
    fn new_ctx(&self) {}
    async fn upstream_peer(&self, _session: &mut Session, _ctx: &mut ()) -> Result<Box<HttpPeer>> {
        Ok(Box::new(HttpPeer::new(self.0, false, String::new())))
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(listen), Some(upstream)) = (args.get(1), args.get(2).and_then(|a| a.parse().ok())) else {
        eprintln!("usage: pingora-ref LISTEN_ADDR UPSTREAM_ADDR");
        std::process::exit(2);
    };
    let threads = std::env::var("THREADS").ok().and_then(|t| t.parse().ok()).unwrap_or(2);
    let conf = ServerConf { threads, work_stealing: false, ..ServerConf::default() };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();
    let mut service = http_proxy_service(&server.configuration, PassThrough(upstream));
    service.add_tcp(listen);
    server.add_service(service);
    server.run_forever();
}
