//! Topic routes and cluster info from the name server, and the route → publish-info rules.
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use serde::{Deserialize, Deserializer, Serialize};

use super::error::ProtocolError;

/// Permission bits of a topic on a broker (`PermName`).
pub mod perm {
    /// `PERM_PRIORITY` (8).
    pub const PRIORITY: i32 = 8;
    /// `PERM_READ` (4): consumers may read the topic's queues on this broker.
    pub const READ: i32 = 4;
    /// `PERM_WRITE` (2): producers may send to the topic on this broker.
    pub const WRITE: i32 = 2;
    /// `PERM_INHERIT` (1): a template topic (`TBW102`) new topics may be auto-created from.
    pub const INHERIT: i32 = 1;

    /// `true` if `perm` has [`READ`].
    pub fn is_readable(perm: i32) -> bool {
        perm & READ != 0
    }
    /// `true` if `perm` has [`WRITE`].
    pub fn is_writeable(perm: i32) -> bool {
        perm & WRITE != 0
    }
    /// `true` if `perm` has [`INHERIT`].
    pub fn is_inherited(perm: i32) -> bool {
        perm & INHERIT != 0
    }
}

/// Broker id of a master in `brokerAddrs`.
pub const MASTER_ID: u64 = 0;

/// Upper bound on queues built per broker: a corrupt queue count must not exhaust memory.
pub const MAX_QUEUES_PER_BROKER: i32 = 65_536;

// Treats an explicit JSON `null` like an absent field.
fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Option::unwrap_or_default)
}

/// Queue layout of a topic on one broker.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", from = "RawQueueData")]
pub struct QueueData {
    /// The broker group (`brokerName`).
    pub broker_name: String,
    /// Number of readable queues (`readQueueNums`).
    pub read_queue_nums: i32,
    /// Number of writable queues (`writeQueueNums`); a producer uses queues `0..write_queue_nums`.
    pub write_queue_nums: i32,
    /// Permission bits, see [`perm`] (`perm`; 6 = read + write).
    pub perm: i32,
    /// Topic sysFlag (`topicSysFlag`, spelled `topicSynFlag` before 4.9.0; default 0).
    pub topic_sys_flag: i32,
}

// Both spellings as separate fields, so a peer sending both does not fail as a duplicate.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawQueueData {
    broker_name: String,
    #[serde(default)]
    read_queue_nums: Option<i32>,
    #[serde(default)]
    write_queue_nums: Option<i32>,
    #[serde(default)]
    perm: Option<i32>,
    #[serde(default)]
    topic_sys_flag: Option<i32>,
    /// Spelling up to RocketMQ 4.8.x.
    #[serde(default)]
    topic_syn_flag: Option<i32>,
}

impl From<RawQueueData> for QueueData {
    fn from(r: RawQueueData) -> Self {
        QueueData {
            broker_name: r.broker_name,
            read_queue_nums: r.read_queue_nums.unwrap_or(0),
            write_queue_nums: r.write_queue_nums.unwrap_or(0),
            perm: r.perm.unwrap_or(0),
            topic_sys_flag: r.topic_sys_flag.or(r.topic_syn_flag).unwrap_or(0),
        }
    }
}

/// Addresses of one broker group (master id 0, slaves ≥ 1).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BrokerData {
    /// The cluster the broker group belongs to (`cluster`; empty if absent).
    #[serde(default, deserialize_with = "null_default")]
    pub cluster: String,
    /// The broker group name (`brokerName`).
    pub broker_name: String,
    /// Broker id → `ip:port` (`brokerAddrs`); id 0 is the master, ≥ 1 are slaves.
    #[serde(default, deserialize_with = "null_default")]
    pub broker_addrs: BTreeMap<u64, String>,
    /// 5.x only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_name: Option<String>,
    /// 5.x only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_acting_master: Option<bool>,
}

impl BrokerData {
    /// The master's address, if the group has one.
    pub fn master_addr(&self) -> Option<&str> {
        self.broker_addrs.get(&MASTER_ID).map(String::as_str)
    }
}

/// Reply body of GET_ROUTEINFO_BY_TOPIC.
///
/// Equality ignores the order of `queue_datas` and `broker_datas`, so the same route
/// from two name servers compares equal and a real change can be detected.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TopicRouteData {
    /// Ordered-topic queue layout, `brokerA:4;brokerB:4` (`orderTopicConf`; usually absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_topic_conf: Option<String>,
    /// Queue layout per broker (`queueDatas`).
    #[serde(default, deserialize_with = "null_default")]
    pub queue_datas: Vec<QueueData>,
    /// Addresses per broker group (`brokerDatas`).
    #[serde(default, deserialize_with = "null_default")]
    pub broker_datas: Vec<BrokerData>,
    /// Broker address → filter server addresses (legacy class filter).
    #[serde(default, deserialize_with = "null_default")]
    pub filter_server_table: BTreeMap<String, Vec<String>>,
    /// 5.x static-topic mapping, kept opaque: publish info is built from the queue datas alone and ignores it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic_queue_mapping_by_broker: Option<serde_json::Value>,
}

fn sorted_by_broker<T: Ord>(items: &[T], name: fn(&T) -> &str) -> Vec<&T> {
    let mut v: Vec<&T> = items.iter().collect();
    v.sort_by(|a, b| name(a).cmp(name(b)).then_with(|| a.cmp(b)));
    v
}

impl PartialEq for TopicRouteData {
    fn eq(&self, other: &Self) -> bool {
        self.order_topic_conf == other.order_topic_conf
            && self.filter_server_table == other.filter_server_table
            && self.topic_queue_mapping_by_broker == other.topic_queue_mapping_by_broker
            && self.queue_datas.len() == other.queue_datas.len()
            && self.broker_datas.len() == other.broker_datas.len()
            && sorted_by_broker(&self.queue_datas, |q| &q.broker_name)
                == sorted_by_broker(&other.queue_datas, |q| &q.broker_name)
            && sorted_by_broker(&self.broker_datas, |b| &b.broker_name)
                == sorted_by_broker(&other.broker_datas, |b| &b.broker_name)
    }
}

impl Eq for TopicRouteData {}

impl TopicRouteData {
    /// Parses a route body, tolerating fastjson's unquoted integer map keys; the result is normalised.
    pub fn decode(body: &[u8]) -> Result<Self, ProtocolError> {
        let mut route: TopicRouteData = decode_fastjson(body, "TopicRouteData")?;
        route.normalize();
        Ok(route)
    }

    /// Standard JSON (quoted keys).
    pub fn encode(&self) -> Bytes {
        // Serializing plain structs, string/integer-keyed maps and a Value cannot fail.
        serde_json::to_vec(self)
            .map(Bytes::from)
            .unwrap_or_default()
    }

    /// Sorts queue and broker data by broker name (then by content, for a total order).
    pub fn normalize(&mut self) {
        self.queue_datas
            .sort_by(|a, b| a.broker_name.cmp(&b.broker_name).then_with(|| a.cmp(b)));
        self.broker_datas
            .sort_by(|a, b| a.broker_name.cmp(&b.broker_name).then_with(|| a.cmp(b)));
    }

    /// The addresses of broker group `broker_name`, if the route has it.
    pub fn broker_data(&self, broker_name: &str) -> Option<&BrokerData> {
        self.broker_datas
            .iter()
            .find(|b| b.broker_name == broker_name)
    }

    /// Address of `broker_name`'s master (id 0), where sends go.
    pub fn master_addr(&self, broker_name: &str) -> Option<&str> {
        self.broker_data(broker_name)
            .and_then(BrokerData::master_addr)
    }

    /// True when the order-topic configuration is present and non-empty.
    pub fn is_order_topic(&self) -> bool {
        self.order_topic_conf
            .as_deref()
            .is_some_and(|c| !c.is_empty())
    }
}

/// TBW102 fallback: clamp each queueData's read and write queue numbers to
/// `min(default_topic_queue_nums, readQueueNums)`, as the Java client does.
pub fn clamp_default_route(
    mut route: TopicRouteData,
    default_topic_queue_nums: i32,
) -> TopicRouteData {
    for q in &mut route.queue_datas {
        let n = default_topic_queue_nums.min(q.read_queue_nums);
        q.read_queue_nums = n;
        q.write_queue_nums = n;
    }
    route
}

/// Reply body of GET_BROKER_CLUSTER_INFO.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterInfo {
    /// Broker name → broker data.
    #[serde(default, deserialize_with = "null_default")]
    pub broker_addr_table: BTreeMap<String, BrokerData>,
    /// Cluster name → broker names.
    #[serde(default, deserialize_with = "null_default")]
    pub cluster_addr_table: BTreeMap<String, BTreeSet<String>>,
}

impl ClusterInfo {
    /// Parses a cluster-info body (fastjson always leaves the broker ids unquoted here).
    pub fn decode(body: &[u8]) -> Result<Self, ProtocolError> {
        decode_fastjson(body, "ClusterInfo")
    }

    /// Standard JSON (quoted keys).
    pub fn encode(&self) -> Bytes {
        // Serializing string/integer-keyed maps of plain structs cannot fail.
        serde_json::to_vec(self)
            .map(Bytes::from)
            .unwrap_or_default()
    }
}

/// Parses strict JSON first, and only on failure retries with bare integer keys quoted.
fn decode_fastjson<T: for<'de> Deserialize<'de>>(
    body: &[u8],
    kind: &'static str,
) -> Result<T, ProtocolError> {
    // serde would also accept a JSON array as a struct; a body must be an object.
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ProtocolError::MalformedBody {
            kind,
            reason: "not a JSON object".to_owned(),
        });
    }
    match serde_json::from_slice(body) {
        Ok(v) => Ok(v),
        Err(first) => {
            let fixed = quote_integer_keys(body);
            if let Cow::Owned(fixed) = fixed {
                serde_json::from_slice(&fixed).map_err(|e| ProtocolError::MalformedBody {
                    kind,
                    reason: e.to_string(),
                })
            } else {
                Err(ProtocolError::MalformedBody {
                    kind,
                    reason: first.to_string(),
                })
            }
        }
    }
}

/// Quotes bare integer object keys (`{0:"a"}` → `{"0":"a"}`), as fastjson writes map keys.
///
/// A run of digits (optionally with a leading `-`) is quoted only outside strings, when
/// it follows `{` or `,` and is followed, after optional whitespace, by `:`. Returns the
/// input unchanged (borrowed) when nothing needed quoting.
pub fn quote_integer_keys(input: &[u8]) -> Cow<'_, [u8]> {
    let mut out: Option<Vec<u8>> = None;
    let mut copied = 0; // input[..copied] is already in `out`
    let mut in_string = false;
    let mut escaped = false;
    // Last non-whitespace byte seen outside strings: `{` or `,` means a key may follow.
    let mut last_sig = 0u8;
    let mut i = 0;
    while i < input.len() {
        let c = input[i];
        if in_string {
            if escaped {
                escaped = false;
            } else if c == b'\\' {
                escaped = true;
            } else if c == b'"' {
                in_string = false;
                last_sig = c;
            }
            i += 1;
            continue;
        }
        match c {
            b'"' => {
                in_string = true;
                i += 1;
            }
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'-' | b'0'..=b'9' if last_sig == b'{' || last_sig == b',' => {
                let start = i;
                let mut j = i + usize::from(c == b'-');
                let digits_start = j;
                while j < input.len() && input[j].is_ascii_digit() {
                    j += 1;
                }
                let mut k = j;
                while k < input.len() && matches!(input[k], b' ' | b'\t' | b'\n' | b'\r') {
                    k += 1;
                }
                if j > digits_start && k < input.len() && input[k] == b':' {
                    let buf = out.get_or_insert_with(|| Vec::with_capacity(input.len() + 16));
                    buf.extend_from_slice(&input[copied..start]);
                    buf.push(b'"');
                    buf.extend_from_slice(&input[start..j]);
                    buf.push(b'"');
                    copied = j;
                }
                last_sig = input[j.saturating_sub(1).max(start)];
                i = j.max(i + 1);
            }
            _ => {
                last_sig = c;
                i += 1;
            }
        }
    }
    match out {
        Some(mut buf) => {
            buf.extend_from_slice(&input[copied..]);
            Cow::Owned(buf)
        }
        None => Cow::Borrowed(input),
    }
}

/// One queue of a topic on one broker.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageQueue {
    /// The topic.
    pub topic: String,
    /// The broker group holding the queue.
    pub broker_name: String,
    /// The queue's id on that broker, from 0.
    pub queue_id: i32,
}

impl MessageQueue {
    /// The queue `queue_id` of `topic` on broker group `broker_name`.
    ///
    /// ```
    /// use actix_rocketmq::MessageQueue;
    /// let mq = MessageQueue::new("TopicTest", "broker-a", 0);
    /// assert_eq!(mq.broker_name, "broker-a");
    /// assert_eq!(mq.queue_id, 0);
    /// ```
    pub fn new(topic: impl Into<String>, broker_name: impl Into<String>, queue_id: i32) -> Self {
        MessageQueue {
            topic: topic.into(),
            broker_name: broker_name.into(),
            queue_id,
        }
    }
}

/// The writable queues of a topic, derived from its route.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopicPublishInfo {
    /// `true` when the queues come from `orderTopicConf`.
    pub order_topic: bool,
    /// The writable queues in selection order (empty: no usable route).
    pub queues: Vec<MessageQueue>,
    /// The route they were derived from (also gives the master addresses).
    pub route: TopicRouteData,
}

impl TopicPublishInfo {
    /// Java `MQClientInstance.topicRouteData2TopicPublishInfo`, minus 5.x static topics.
    ///
    /// `orderTopicConf` (`brokerA:4;brokerB:4`) lists the queues in that order; otherwise
    /// queue data sorted by broker name, each with WRITE perm and a master address,
    /// contributes queues `0..writeQueueNums`. Malformed order entries are skipped.
    pub fn from_route(topic: &str, route: &TopicRouteData) -> Self {
        let mut queues = Vec::new();
        let order_topic = route.is_order_topic();
        if let Some(conf) = route.order_topic_conf.as_deref().filter(|c| !c.is_empty()) {
            for entry in conf.split(';') {
                let Some((broker, nums)) = entry.split_once(':') else {
                    continue;
                };
                let broker = broker.trim();
                let Ok(nums) = nums.trim().parse::<i32>() else {
                    continue;
                };
                if broker.is_empty() {
                    continue;
                }
                for id in 0..nums.min(MAX_QUEUES_PER_BROKER) {
                    queues.push(MessageQueue::new(topic, broker, id));
                }
            }
        } else {
            for qd in sorted_by_broker(&route.queue_datas, |q| &q.broker_name) {
                if !perm::is_writeable(qd.perm) || route.master_addr(&qd.broker_name).is_none() {
                    continue;
                }
                for id in 0..qd.write_queue_nums.min(MAX_QUEUES_PER_BROKER) {
                    queues.push(MessageQueue::new(topic, qd.broker_name.as_str(), id));
                }
            }
        }
        TopicPublishInfo {
            order_topic,
            queues,
            route: route.clone(),
        }
    }

    /// Java `TopicPublishInfo.ok()`: there is at least one queue to send to.
    pub fn ok(&self) -> bool {
        !self.queues.is_empty()
    }

    /// Why the route has no queue to send to (`None` when it has one): what a
    /// user must fix on the cluster, said once per broker.
    pub fn unusable_reason(&self) -> Option<String> {
        if self.ok() {
            return None;
        }
        let route = &self.route;
        if route.queue_datas.is_empty() && route.broker_datas.is_empty() {
            return Some("the route has no queue data and no broker data".into());
        }
        if self.order_topic {
            let conf = route.order_topic_conf.as_deref().unwrap_or_default();
            return Some(format!(
                "orderTopicConf `{}` names no queue",
                super::peer_text::bounded(conf)
            ));
        }
        if route.queue_datas.is_empty() {
            return Some("the route has no queue data".into());
        }
        let mut why: Vec<String> = Vec::new();
        for qd in route.queue_datas.iter().take(8) {
            let name = super::peer_text::bounded(&qd.broker_name);
            why.push(match route.broker_data(&qd.broker_name) {
                None => format!("queue data of broker `{name}` matches no broker data"),
                Some(b) if b.master_addr().is_none() => {
                    format!("broker `{name}` has no master (id 0)")
                }
                Some(_) if !perm::is_writeable(qd.perm) => {
                    format!("broker `{name}` is not writable (perm {})", qd.perm)
                }
                Some(_) => format!("broker `{name}` has {} write queues", qd.write_queue_nums),
            });
        }
        Some(why.join("; "))
    }
}

#[cfg(test)]
mod tests;
