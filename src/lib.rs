//! actix-rocketmq: a RocketMQ producer client for actix services.
pub mod protocol;
pub mod runtime;
