//! Well-known message property names (Java `MessageConst`) and which of them
//! the system reserves.
/// Business keys for lookup (QUERY_MESSAGE), several separated by one space.
pub const KEYS: &str = "KEYS";
/// The message tag, used by consumers to filter.
pub const TAGS: &str = "TAGS";
/// waitStoreMsgOK; absent means true.
pub const WAIT: &str = "WAIT";
/// Delay level 1..N into the broker's `messageDelayLevel`.
pub const DELAY: &str = "DELAY";
/// Original topic of a message sent back for consumer retry.
pub const RETRY_TOPIC: &str = "RETRY_TOPIC";
/// The real topic of a message parked in a system topic (delay, half message).
pub const REAL_TOPIC: &str = "REAL_TOPIC";
/// The real queue id of a message parked in a system topic.
pub const REAL_QID: &str = "REAL_QID";
/// `"true"` on a transactional half message.
pub const TRAN_MSG: &str = "TRAN_MSG";
/// Producer group of a half message (the broker finds the check channel by it).
pub const PGROUP: &str = "PGROUP";
/// The queue's min offset, added by the broker to pulled messages.
pub const MIN_OFFSET: &str = "MIN_OFFSET";
/// The queue's max offset, added by the broker to pulled messages.
pub const MAX_OFFSET: &str = "MAX_OFFSET";
/// Buyer id for unit routing (legacy).
pub const BUYER_ID: &str = "BUYER_ID";
/// Original message id of a message sent back for consumer retry.
pub const ORIGIN_MESSAGE_ID: &str = "ORIGIN_MESSAGE_ID";
/// Legacy message-transfer flag (broker-internal).
pub const TRANSFER_FLAG: &str = "TRANSFER_FLAG";
/// Legacy correction flag (broker-internal).
pub const CORRECTION_FLAG: &str = "CORRECTION_FLAG";
/// Legacy MQ2 flag (broker-internal).
pub const MQ2_FLAG: &str = "MQ2_FLAG";
/// Redelivery count of a retried message (consumer side).
pub const RECONSUME_TIME: &str = "RECONSUME_TIME";
/// Region of the storing broker (default `DefaultRegion`).
pub const MSG_REGION: &str = "MSG_REGION";
/// Whether message tracing is enabled, `"true"`/`"false"`.
pub const TRACE_ON: &str = "TRACE_ON";
/// Client message id (the dedup key, `SendResult.msgId`).
pub const UNIQ_KEY: &str = "UNIQ_KEY";
/// Extra uniqueness info (broker-internal).
pub const EXTEND_UNIQ_INFO: &str = "EXTEND_UNIQ_INFO";
/// Redeliveries allowed before the message goes to the DLQ.
pub const MAX_RECONSUME_TIMES: &str = "MAX_RECONSUME_TIMES";
/// When a consumer started consuming it, epoch ms (consumer side).
pub const CONSUME_START_TIME: &str = "CONSUME_START_TIME";
/// Number of messages in a 5.x inner batch (broker).
pub const INNER_NUM: &str = "INNER_NUM";
/// Base queue offset of a 5.x inner batch (broker).
pub const INNER_BASE: &str = "INNER_BASE";
/// Duplication marker (broker-internal).
pub const DUP_INFO: &str = "DUP_INFO";
/// First-check delay of a half message (a user property in Java, not reserved).
pub const CHECK_IMMUNITY_TIME_IN_SECONDS: &str = "CHECK_IMMUNITY_TIME_IN_SECONDS";
/// Queue offset of the half message, set by the broker on commit/rollback.
pub const TRAN_PREPARED_QUEUE_OFFSET: &str = "TRAN_PREPARED_QUEUE_OFFSET";
/// Set client-side on the local message after a half send.
pub const TRANSACTION_ID: &str = "__transactionId__";
/// How often the broker has checked a half message (broker-set).
pub const TRANSACTION_CHECK_TIMES: &str = "TRANSACTION_CHECK_TIMES";
/// Namespace, set by Java when a namespace is configured.
pub const INSTANCE_ID: &str = "INSTANCE_ID";
/// Request–reply: correlation id (random UUID) pairing a reply with its request.
pub const CORRELATION_ID: &str = "CORRELATION_ID";
/// Request–reply: client id of the requester the reply is pushed to.
pub const REPLY_TO_CLIENT: &str = "REPLY_TO_CLIENT";
/// Request–reply: request timeout in ms.
pub const TTL: &str = "TTL";
/// Request–reply: when the reply reached the requester, epoch ms.
pub const ARRIVE_TIME: &str = "ARRIVE_TIME";
/// Request–reply: when the broker pushed the reply, epoch ms.
pub const PUSH_REPLY_TIME: &str = "PUSH_REPLY_TIME";
/// Cluster name of the storing broker (added to every stored message).
pub const CLUSTER: &str = "CLUSTER";
/// `reply` marks a request–reply answer (sent with SEND_REPLY_MESSAGE).
pub const MSG_TYPE: &str = "MSG_TYPE";
/// 5.x pop consumption: checkpoint (broker-internal).
pub const POP_CK: &str = "POP_CK";
/// 5.x pop consumption: checkpoint offset (broker-internal).
pub const POP_CK_OFFSET: &str = "POP_CK_OFFSET";
/// 5.x pop consumption: first pop time, `1ST_POP_TIME` (broker-internal).
pub const FIRST_POP_TIME: &str = "1ST_POP_TIME";
/// FIFO sharding key (5.x).
pub const SHARDING_KEY: &str = "__SHARDINGKEY";
/// Forwarded queue id (broker-internal).
pub const FORWARD_QUEUE_ID: &str = "PROPERTY_FORWARD_QUEUE_ID";
/// Redirect marker (broker-internal).
pub const REDIRECT: &str = "REDIRECT";
/// LMQ dispatch list; must not contain a path separator.
pub const INNER_MULTI_DISPATCH: &str = "INNER_MULTI_DISPATCH";
/// LMQ per-queue offsets of a multi-dispatched message (broker).
pub const INNER_MULTI_QUEUE_OFFSET: &str = "INNER_MULTI_QUEUE_OFFSET";
/// 5.x trace context.
pub const TRACE_CONTEXT: &str = "TRACE_CONTEXT";
/// 5.x timer: relative delay in seconds (wins over the other two).
pub const TIMER_DELAY_SEC: &str = "TIMER_DELAY_SEC";
/// 5.x timer: relative delay in milliseconds.
pub const TIMER_DELAY_MS: &str = "TIMER_DELAY_MS";
/// 5.x timer: absolute delivery time, epoch milliseconds.
pub const TIMER_DELIVER_MS: &str = "TIMER_DELIVER_MS";
/// 5.x timer: when the message entered the timer wheel, epoch ms (broker).
pub const TIMER_ENQUEUE_MS: &str = "TIMER_ENQUEUE_MS";
/// 5.x timer: when it left the timer wheel, epoch ms (broker).
pub const TIMER_DEQUEUE_MS: &str = "TIMER_DEQUEUE_MS";
/// 5.x timer: times the message rolled over the wheel (broker).
pub const TIMER_ROLL_TIMES: &str = "TIMER_ROLL_TIMES";
/// 5.x timer: computed delivery time, epoch ms (broker).
pub const TIMER_OUT_MS: &str = "TIMER_OUT_MS";
/// 5.x timer: UNIQ_KEY of a timer message to cancel.
pub const TIMER_DEL_UNIQKEY: &str = "TIMER_DEL_UNIQKEY";
/// 5.x timer: deletion time (broker).
pub const TIMER_DEL_MS: &str = "TIMER_DEL_MS";
/// 5.x timer: delay level handled by the timer wheel (broker).
pub const TIMER_DELAY_LEVEL: &str = "TIMER_DELAY_LEVEL";
/// Producer address as seen by the broker (broker-internal).
pub const BORN_HOST: &str = "__BORNHOST";
/// Born timestamp copy (broker-internal).
pub const BORN_TIMESTAMP: &str = "BORN_TIMESTAMP";
/// CRC32 of the body kept in properties (broker option).
pub const CRC32: &str = "__CRC32#";
/// Original topic of a dead-lettered message.
pub const DLQ_ORIGIN_TOPIC: &str = "DLQ_ORIGIN_TOPIC";
/// Original message id of a dead-lettered message.
pub const DLQ_ORIGIN_MESSAGE_ID: &str = "DLQ_ORIGIN_MESSAGE_ID";
/// Names starting with this are never stored by the broker.
pub const TRANSIENT_PREFIX: &str = "__RMQ.TRANSIENT.";

/// The names reserved for the system (Java `MessageConst.STRING_HASH_SET`);
/// a user property must not use one of them.
pub const SYSTEM_PROPERTIES: &[&str] = &[
    TRACE_ON,
    MSG_REGION,
    KEYS,
    TAGS,
    WAIT,
    DELAY,
    RETRY_TOPIC,
    REAL_TOPIC,
    REAL_QID,
    TRAN_MSG,
    PGROUP,
    MIN_OFFSET,
    MAX_OFFSET,
    BUYER_ID,
    ORIGIN_MESSAGE_ID,
    TRANSFER_FLAG,
    CORRECTION_FLAG,
    MQ2_FLAG,
    RECONSUME_TIME,
    UNIQ_KEY,
    MAX_RECONSUME_TIMES,
    CONSUME_START_TIME,
    POP_CK,
    POP_CK_OFFSET,
    FIRST_POP_TIME,
    TRAN_PREPARED_QUEUE_OFFSET,
    DUP_INFO,
    EXTEND_UNIQ_INFO,
    INSTANCE_ID,
    CORRELATION_ID,
    REPLY_TO_CLIENT,
    TTL,
    ARRIVE_TIME,
    PUSH_REPLY_TIME,
    CLUSTER,
    MSG_TYPE,
    INNER_MULTI_QUEUE_OFFSET,
    TIMER_DELAY_MS,
    TIMER_DELAY_SEC,
    TIMER_DELIVER_MS,
    TIMER_ENQUEUE_MS,
    TIMER_DEQUEUE_MS,
    TIMER_ROLL_TIMES,
    TIMER_OUT_MS,
    TIMER_DEL_UNIQKEY,
    TIMER_DEL_MS,
    TIMER_DELAY_LEVEL,
    BORN_HOST,
    BORN_TIMESTAMP,
    DLQ_ORIGIN_TOPIC,
    DLQ_ORIGIN_MESSAGE_ID,
    CRC32,
];

/// Whether `name` is reserved for the system (not usable as a user property).
pub fn is_system_property(name: &str) -> bool {
    SYSTEM_PROPERTIES.contains(&name)
}
