//! Webhook ports for tests: pings kept in memory, a fixed signing key, and
//! no name resolved (endpoints in tests are literal loopback addresses).

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use domain::events::UrlPolicy;
use service::events::{
    DeliveryQueue, DeliveryTask, Pending, QueueError, ResolveError, Resolver, StaticKey,
    WebhookPorts,
};

/// Keeps what it is given: the pings a test queued.
#[derive(Default)]
pub struct KeptTasks(Mutex<Vec<DeliveryTask>>);

impl KeptTasks {
    pub fn tasks(&self) -> Vec<DeliveryTask> {
        self.0.lock().unwrap().clone()
    }
}

impl DeliveryQueue for KeptTasks {
    fn schedule<'a>(&'a self, task: &'a DeliveryTask) -> Pending<'a, (), QueueError> {
        self.0.lock().unwrap().push(task.clone());
        Box::pin(async { Ok(()) })
    }
}

/// Resolves no name.
pub struct NoNames;

impl Resolver for NoNames {
    fn resolve<'a>(&'a self, host: &'a str, _port: u16) -> Pending<'a, Vec<IpAddr>, ResolveError> {
        Box::pin(async move {
            Err(ResolveError {
                host: host.to_owned(),
                source: std::io::Error::other("no names here"),
            })
        })
    }
}

/// Ports under `policy`, and the queue they put pings in.
pub fn webhook_ports(policy: UrlPolicy) -> (WebhookPorts, Arc<KeptTasks>) {
    let queue = Arc::new(KeptTasks::default());
    let ports = WebhookPorts {
        policy,
        resolver: Arc::new(NoNames),
        keys: Arc::new(StaticKey::new(Arc::from(&[7u8; 32][..])).unwrap()),
        queue: queue.clone(),
    };
    (ports, queue)
}
