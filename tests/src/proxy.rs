//! A loopback TCP proxy a test can cut: the database "goes away" (every open connection is
//! dropped and new ones are refused) and comes back, without touching the real server that
//! other tests share. Given several upstreams it takes them in turn, as a load balancer in
//! front of replicas does.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

#[derive(Default)]
struct Switch {
    cut: AtomicBool,
    live: Mutex<Vec<AbortHandle>>,
}

/// Forwards `127.0.0.1:<port>` to an upstream address until cut.
pub struct Proxy {
    pub port: u16,
    switch: Arc<Switch>,
    accepting: AbortHandle,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accepting.abort();
        self.cut();
    }
}

impl Proxy {
    pub async fn start(upstream: &str) -> Self {
        Self::round_robin(&[upstream]).await
    }

    /// Each new connection goes to the next of `upstreams`.
    pub async fn round_robin(upstreams: &[&str]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let switch = Arc::new(Switch::default());
        let upstreams: Vec<String> = upstreams.iter().map(|u| (*u).to_owned()).collect();
        let on = switch.clone();
        let accepting = tokio::spawn(async move {
            let mut next = 0usize;
            while let Ok((mut inbound, _)) = listener.accept().await {
                if on.cut.load(Ordering::SeqCst) {
                    continue; // dropped: the client sees the connection closed
                }
                let upstream = upstreams[next % upstreams.len()].clone();
                next += 1;
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                on.live.lock().unwrap().push(task.abort_handle());
            }
        })
        .abort_handle();
        Self {
            port,
            switch,
            accepting,
        }
    }

    /// Drops every open connection and refuses new ones.
    pub fn cut(&self) {
        self.switch.cut.store(true, Ordering::SeqCst);
        for task in self.switch.live.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    /// Forwards again.
    pub fn restore(&self) {
        self.switch.cut.store(false, Ordering::SeqCst);
    }
}
