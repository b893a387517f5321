//! The RocketMQ remoting wire protocol: frames, headers, codes, bodies and
//! message encoding. Bytes in, typed values out; nothing here knows actors
//! or sockets.

pub mod acl;
pub mod batch;
pub mod codes;
pub mod command;
pub mod compression;
pub mod error;
pub mod frame;
pub mod headers;
pub mod heartbeat;
pub mod message;
pub mod message_id;
pub mod peer_text;
pub mod properties;
pub mod property;
pub mod route;
pub mod serialize;
pub mod stored;
pub mod sys_flag;
pub mod trace_data;
pub mod validation;

pub use codes::{LanguageCode, SerializeType, request_code, response_code};
pub use command::{ExtFields, RemotingCommand};
pub use error::ProtocolError;
pub use frame::RemotingCodec;
