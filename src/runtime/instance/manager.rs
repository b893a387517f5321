//! `ClientManager`: the process-wide table of client instances (Java
//! `MQClientManager`), one per client id and name servers, started on first use.
use std::collections::HashMap;

use actix::prelude::*;

use super::{ClientInstance, InstanceConfig, StartInstance};
use crate::runtime::error::InstanceError;

/// The process-wide table of client instances, keyed by client id and name servers.
#[derive(Default)]
pub struct ClientManager {
    instances: HashMap<String, Addr<ClientInstance>>,
}

impl Actor for ClientManager {
    type Context = Context<Self>;
}
impl Supervised for ClientManager {}
impl SystemService for ClientManager {}

/// Returns the running instance for this config, creating and starting it if needed.
pub struct GetOrCreateInstance(pub InstanceConfig);
impl Message for GetOrCreateInstance {
    type Result = Result<Addr<ClientInstance>, InstanceError>;
}

pub(super) struct RemoveInstance {
    pub(super) key: String,
    pub(super) instance: Addr<ClientInstance>,
}
impl Message for RemoveInstance {
    type Result = ();
}

impl Handler<GetOrCreateInstance> for ClientManager {
    type Result = ResponseFuture<Result<Addr<ClientInstance>, InstanceError>>;
    fn handle(&mut self, msg: GetOrCreateInstance, ctx: &mut Context<Self>) -> Self::Result {
        let key = msg.0.key();
        if let Some(existing) = self.instances.get(&key).filter(|a| a.connected()) {
            let a = existing.clone();
            return Box::pin(async move { Ok(a) });
        }
        let addr = ClientInstance::new(msg.0).start();
        self.instances.insert(key.clone(), addr.clone());
        let manager = ctx.address();
        Box::pin(async move {
            let started = addr
                .send(StartInstance)
                .await
                .map_err(|_| InstanceError::ShutDown)
                .and_then(|r| r);
            if let Err(e) = started {
                // A failed start must not stay in the table: the next start gets its own error.
                manager.do_send(RemoveInstance {
                    key,
                    instance: addr,
                });
                return Err(e);
            }
            Ok(addr)
        })
    }
}

impl Handler<RemoveInstance> for ClientManager {
    type Result = ();
    fn handle(&mut self, msg: RemoveInstance, _: &mut Context<Self>) {
        // Only forget the instance that asked: a newer one may already hold the key.
        if self
            .instances
            .get(&msg.key)
            .is_some_and(|a| *a == msg.instance)
        {
            self.instances.remove(&msg.key);
        }
    }
}
