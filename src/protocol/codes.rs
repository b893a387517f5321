//! Request, response and language codes of the remoting protocol.

/// Request codes a producer sends or receives.
pub mod request_code {
    /// Send one message with the V1 (long-key) `SendMessageRequestHeader`; client → broker.
    pub const SEND_MESSAGE: i32 = 10;
    /// Query stored messages by key within a time range; client → broker.
    pub const QUERY_MESSAGE: i32 = 12;
    /// Create or update a topic; client → each master broker.
    pub const UPDATE_AND_CREATE_TOPIC: i32 = 17;
    /// Pull messages from a queue (consumer side; listed for completeness).
    pub const PULL_MESSAGE: i32 = 11;
    /// Ask a broker for a queue's max offset (also the Java fault detector's probe).
    pub const GET_MAX_OFFSET: i32 = 30;
    /// Fetch one stored message by commit-log offset; sent to the store host decoded from an offset msg id.
    pub const VIEW_MESSAGE_BY_ID: i32 = 33;
    /// Heartbeat carrying `HeartbeatData`; binds the producer group and client id to the channel.
    pub const HEART_BEAT: i32 = 34;
    /// Unregister the client id / producer group from a broker at shutdown.
    pub const UNREGISTER_CLIENT: i32 = 35;
    /// Commit, roll back or leave unknown a transactional half message (oneway).
    pub const END_TRANSACTION: i32 = 37;
    /// Broker → client oneway request asking for a half message's transaction state.
    pub const CHECK_TRANSACTION_STATE: i32 = 39;
    /// Broker → client consumer-group notification; a producer ignores it.
    pub const NOTIFY_CONSUMER_IDS_CHANGED: i32 = 40;
    /// Fetch a topic's `TopicRouteData` from the name server.
    pub const GET_ROUTEINFO_BY_TOPIC: i32 = 105;
    /// Fetch the `ClusterInfo` (brokers per cluster) from the name server; no header.
    pub const GET_BROKER_CLUSTER_INFO: i32 = 106;
    /// Broker → consumer offset reset; a producer answers `REQUEST_CODE_NOT_SUPPORTED`.
    pub const RESET_CONSUMER_CLIENT_OFFSET: i32 = 220;
    /// Broker → consumer status query; a producer answers `REQUEST_CODE_NOT_SUPPORTED`.
    pub const GET_CONSUMER_STATUS_FROM_CLIENT: i32 = 221;
    /// Broker → consumer running-info query; a producer answers `REQUEST_CODE_NOT_SUPPORTED`.
    pub const GET_CONSUMER_RUNNING_INFO: i32 = 307;
    /// Broker → consumer direct-consume request; a producer answers `REQUEST_CODE_NOT_SUPPORTED`.
    pub const CONSUME_MESSAGE_DIRECTLY: i32 = 309;
    /// Send one message with the V2 (one-letter key) header; the Java default.
    pub const SEND_MESSAGE_V2: i32 = 310;
    /// Send a batch (V2 header with `m=true`, body of concatenated records).
    pub const SEND_BATCH_MESSAGE: i32 = 320;
    /// Send a request–reply answer (`MSG_TYPE=reply`) with the V1 header.
    pub const SEND_REPLY_MESSAGE: i32 = 324;
    /// Send a request–reply answer (`MSG_TYPE=reply`) with the V2 header.
    pub const SEND_REPLY_MESSAGE_V2: i32 = 325;
    /// Broker → requester push of a reply message; answered with `SUCCESS`.
    pub const PUSH_REPLY_MESSAGE_TO_CLIENT: i32 = 326;
    /// 5.3.1+: recall a timer / delay message before it is delivered (`recallHandle`).
    pub const RECALL_MESSAGE: i32 = 370;
}

/// Response codes.
pub mod response_code {
    /// The request succeeded (for sends: `SEND_OK`).
    pub const SUCCESS: i32 = 0;
    /// Generic server-side failure (also a missing required header field); Java retries sends on it.
    pub const SYSTEM_ERROR: i32 = 1;
    /// Broker flow control (`[REJECTREQUEST]`, `[OVERLOAD]`, `[PC_SYNCHRONIZED]` remarks); retried since 5.3.0.
    pub const SYSTEM_BUSY: i32 = 2;
    /// The peer does not handle this request code.
    pub const REQUEST_CODE_NOT_SUPPORTED: i32 = 3;
    /// A transaction operation failed on the broker.
    pub const TRANSACTION_FAILED: i32 = 4;
    /// Stored, but the synchronous disk flush timed out (`SendStatus::FlushDiskTimeout`).
    pub const FLUSH_DISK_TIMEOUT: i32 = 10;
    /// Stored on the master, but no slave was available for sync replication.
    pub const SLAVE_NOT_AVAILABLE: i32 = 11;
    /// Stored on the master, but sync replication to the slave timed out.
    pub const FLUSH_SLAVE_TIMEOUT: i32 = 12;
    /// The message was rejected as malformed (e.g. body or properties too large, bad batch).
    pub const MESSAGE_ILLEGAL: i32 = 13;
    /// The broker cannot serve the request now (e.g. starting, shutting down, disk full); retried.
    pub const SERVICE_NOT_AVAILABLE: i32 = 14;
    /// The client version is not supported by the server.
    pub const VERSION_NOT_SUPPORTED: i32 = 15;
    /// The broker or topic does not allow this operation (e.g. write to a read-only topic); retried.
    pub const NO_PERMISSION: i32 = 16;
    /// The topic is unknown (name server route lookup or broker send); retried.
    pub const TOPIC_NOT_EXIST: i32 = 17;
    /// Topic creation refused because the topic exists.
    pub const TOPIC_EXIST_ALREADY: i32 = 18;
    /// Pull found no message (consumer side).
    pub const PULL_NOT_FOUND: i32 = 19;
    /// Pull should be retried at once (consumer side).
    pub const PULL_RETRY_IMMEDIATELY: i32 = 20;
    /// Pull offset is out of range (consumer side).
    pub const PULL_OFFSET_MOVED: i32 = 21;
    /// A message query matched nothing.
    pub const QUERY_NOT_FOUND: i32 = 22;
    /// A request parameter is invalid (5.x brokers: e.g. an invalid topic name).
    pub const INVALID_PARAMETER: i32 = 29;
    /// Unit-routing code kept in the Java retry set.
    pub const NO_BUYER_ID: i32 = 204;
    /// The request reached a broker outside the caller's unit; retried.
    pub const NOT_IN_CURRENT_UNIT: i32 = 205;
    /// Flow control on the server.
    pub const FLOW_CONTROL: i32 = 215;
    /// The operation is not allowed.
    pub const ILLEGAL_OPERATION: i32 = 604;
    /// 5.3.x server shutting down: reconnect elsewhere (sent only to clients with version > 475); retried since 5.3.1.
    pub const GO_AWAY: i32 = 1500;
}

/// Broker codes the Java sync producer (5.3.1+) retries on another broker:
/// the default of the producer's retry set, and what `Error::is_retriable` calls retriable.
///
/// ```
/// use actix_rocketmq::internals::protocol::codes::DEFAULT_RETRY_RESPONSE_CODES;
/// assert!(DEFAULT_RETRY_RESPONSE_CODES.contains(&17)); // TOPIC_NOT_EXIST
/// ```
pub const DEFAULT_RETRY_RESPONSE_CODES: &[i32] = &[
    response_code::TOPIC_NOT_EXIST,
    response_code::SERVICE_NOT_AVAILABLE,
    response_code::SYSTEM_ERROR,
    response_code::NO_PERMISSION,
    response_code::NO_BUYER_ID,
    response_code::NOT_IN_CURRENT_UNIT,
    response_code::SYSTEM_BUSY,
    response_code::GO_AWAY,
];

/// The sender's language, a byte in binary headers and an enum name in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LanguageCode {
    /// `JAVA` (0).
    Java,
    /// `CPP` (1).
    Cpp,
    /// `DOTNET` (2).
    Dotnet,
    /// `PYTHON` (3).
    Python,
    /// `DELPHI` (4).
    Delphi,
    /// `ERLANG` (5).
    Erlang,
    /// `RUBY` (6).
    Ruby,
    /// `OTHER` (7), the default: safe with every broker version.
    #[default]
    Other,
    /// `HTTP` (8).
    Http,
    /// `GO` (9).
    Go,
    /// `PHP` (10).
    Php,
    /// `OMS` (11).
    Oms,
    /// `RUST` (12), known to brokers since 4.9.4.
    Rust,
    /// `NODE_JS` (13), recent 5.x only.
    NodeJs,
}

const LANGUAGES: [(LanguageCode, &str); 14] = [
    (LanguageCode::Java, "JAVA"),
    (LanguageCode::Cpp, "CPP"),
    (LanguageCode::Dotnet, "DOTNET"),
    (LanguageCode::Python, "PYTHON"),
    (LanguageCode::Delphi, "DELPHI"),
    (LanguageCode::Erlang, "ERLANG"),
    (LanguageCode::Ruby, "RUBY"),
    (LanguageCode::Other, "OTHER"),
    (LanguageCode::Http, "HTTP"),
    (LanguageCode::Go, "GO"),
    (LanguageCode::Php, "PHP"),
    (LanguageCode::Oms, "OMS"),
    (LanguageCode::Rust, "RUST"),
    (LanguageCode::NodeJs, "NODE_JS"),
];

impl LanguageCode {
    /// The byte used by the binary (ROCKETMQ) header.
    pub fn code(self) -> u8 {
        self as u8
    }
    /// Unknown bytes map to `Other`, as the peer's language is informational.
    pub fn from_code(code: u8) -> Self {
        LANGUAGES
            .get(code as usize)
            .map(|l| l.0)
            .unwrap_or(LanguageCode::Other)
    }
    /// The enum name used by JSON headers.
    pub fn name(self) -> &'static str {
        LANGUAGES[self as usize].1
    }
    /// Unknown names map to `Other`.
    pub fn from_name(name: &str) -> Self {
        LANGUAGES
            .iter()
            .find(|l| l.1 == name)
            .map(|l| l.0)
            .unwrap_or(LanguageCode::Other)
    }
}

/// `MQVersion` ordinal this client announces: V5_3_1, so 5.x name servers send
/// standard JSON routes (>= 401) and 5.3 brokers may answer GO_AWAY (> 475 only).
pub const CLIENT_VERSION: i32 = 475;

/// Header serialization, the top byte of the frame's header-length word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SerializeType {
    /// JSON text header (0), the default.
    #[default]
    Json,
    /// Compact `ROCKETMQ` binary header (1).
    RocketMq,
}

impl SerializeType {
    /// The frame's top byte: 0 for JSON, 1 for ROCKETMQ.
    pub fn code(self) -> u8 {
        match self {
            SerializeType::Json => 0,
            SerializeType::RocketMq => 1,
        }
    }
    /// Decodes the frame's top byte; `None` for an unknown type.
    pub fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(SerializeType::Json),
            1 => Some(SerializeType::RocketMq),
            _ => None,
        }
    }
    /// The name used in the JSON `serializeTypeCurrentRPC` key.
    pub fn name(self) -> &'static str {
        match self {
            SerializeType::Json => "JSON",
            SerializeType::RocketMq => "ROCKETMQ",
        }
    }
}
