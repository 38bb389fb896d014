//! A plain tokio accept loop that hands connections to a Pingora app. The production server
//! uses Pingora's own listeners (for graceful upgrade and TLS); this loop serves the same
//! apps in-process on ephemeral ports for tests, and backs `aether mock`.

use std::sync::Arc;

use pingora::apps::ServerApp;
use pingora::protocols::l4::stream::Stream;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Serves `app` on `listener` until `shutdown` turns true.
pub async fn serve<A: ServerApp + Send + Sync + 'static>(
    listener: TcpListener,
    app: Arc<A>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => return,
        };
        let Ok((tcp, _)) = accepted else { continue };
        let _ = tcp.set_nodelay(true);
        let app = app.clone();
        let watch = shutdown.clone();
        tokio::spawn(async move {
            let stream: pingora::protocols::Stream = Box::new(Stream::from(tcp));
            app.process_new(stream, &watch).await;
        });
    }
}
