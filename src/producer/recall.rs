//! Recall (Java 5.3.1 `recallMessage`): the [`RecallMessage`] handler.
//!
//! The handle names the broker holding the timer message; the recall goes to
//! that broker's master, found by the topic's route (looked up first when it is
//! not cached) or the client instance's broker table.
use actix::prelude::*;
use tokio::time::Instant;

use super::ProducerActor;
use super::messages::RecallMessage;
use super::routes::{find_route, master_connection};
use crate::error::Error;
use crate::protocol::codes::response_code;
use crate::protocol::headers::{
    CommandHeader, RecallHandle, RecallMessageRequestHeader, RecallMessageResponseHeader,
};
use crate::protocol::validation::{ValidationError, validate_topic};

/// The handle of `msg`, checked as Java checks it before sending.
fn checked_handle(msg: &RecallMessage) -> Result<RecallHandle, Error> {
    validate_topic(&msg.topic)?;
    RecallHandle::decode(&msg.recall_handle)
        .map_err(|reason| ValidationError::RecallHandleInvalid { reason }.into())
}

impl Handler<RecallMessage> for ProducerActor {
    type Result = ResponseActFuture<Self, Result<String, Error>>;
    fn handle(&mut self, msg: RecallMessage, ctx: &mut Context<Self>) -> Self::Result {
        let handle = match checked_handle(&msg) {
            Ok(h) => h,
            Err(e) => return Box::pin(actix::fut::ready(Err(e))),
        };
        let deadline = Instant::now() + self.cfg.send_timeout();
        let topic = self.cfg.wrap(&msg.topic).into_owned();
        let header = RecallMessageRequestHeader {
            producer_group: Some(self.cfg.wrapped_group().into_owned()),
            topic: topic.clone(),
            recall_handle: msg.recall_handle,
            broker_name: Some(handle.broker_name.clone()),
        };
        // Java `tryToFindTopicPublishInfo` when the broker's address is not known yet.
        let lookup = self.routes.get(&topic).is_none().then(|| {
            let find = self.routes.find(topic.clone(), ctx.address().recipient());
            find_route(self.handles.route_manager.clone(), find)
        });
        let looked_up = async move {
            match lookup {
                Some(l) => tokio::time::timeout_at(deadline, l).await.ok()?.ok(),
                None => None,
            }
        };
        Box::pin(looked_up.into_actor(self).then(move |info, act, _| {
            if let Some(info) = info {
                act.routes.learn(topic.clone(), info, Vec::new());
            }
            let broker = handle.broker_name;
            let (known, conn) = act.routes.master_of(&topic, &broker);
            let vip = act.routes.vip();
            let instance = act.handles.instance.clone();
            async move {
                let conn = master_connection(known, conn, broker, vip, instance).await?;
                let resp = conn.request(header.into_request(), deadline).await?;
                if resp.code != response_code::SUCCESS {
                    return Err(Error::broker(
                        resp.code,
                        resp.remark.clone().unwrap_or_default(),
                        conn.remote(),
                    ));
                }
                Ok(RecallMessageResponseHeader::from_command(&resp)?.msg_id)
            }
            .into_actor(act)
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn a_bad_handle_or_topic_fails_before_sending() {
        let e = checked_handle(&RecallMessage::new("T", "not a handle")).unwrap_err();
        assert!(
            matches!(
                e.kind(),
                ErrorKind::Validation(ValidationError::RecallHandleInvalid { .. })
            ),
            "{e:?}"
        );
        let ok = RecallHandle {
            topic: "T".into(),
            broker_name: "broker-a".into(),
            timestamp: "1".into(),
            message_id: "ID".into(),
        }
        .encode();
        assert_eq!(
            checked_handle(&RecallMessage::new("T", ok.clone()))
                .unwrap()
                .broker_name,
            "broker-a"
        );
        let e = checked_handle(&RecallMessage::new("", ok)).unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::Validation(_)), "{e:?}");
    }
}
