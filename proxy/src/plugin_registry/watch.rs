//! Watching the plugin directory: a poll at the configured interval (a directory listing
//! and a `stat` per file; nothing is read unless a size or modification time changed), the
//! scan itself on a blocking thread so compiling never stalls the request path.

use std::sync::Arc;

use super::{Plugins, Watch};

/// Polls the plugin directory until the process ends. Returns at once when the directory is
/// not set or watching is off.
pub async fn watch(plugins: Arc<Plugins>) {
    let Watch::Poll(interval) = plugins.settings().watch else {
        return;
    };
    if plugins.settings().dir.is_none() {
        return;
    }
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let scanning = Arc::clone(&plugins);
        if tokio::task::spawn_blocking(move || scanning.rescan()).await.is_err() {
            tracing::error!("the plugin directory scan panicked; watching goes on");
        }
    }
}
