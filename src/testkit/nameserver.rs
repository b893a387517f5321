//! The fake name server: routes and cluster info computed from the cluster's
//! topic table, with per-topic overrides for route-change tests.
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use serde::Serialize;

use super::ClusterState;
use super::server::{ConnectionId, Handler, ServerCore, lock, response};
use crate::protocol::codes::{request_code, response_code};
use crate::protocol::command::RemotingCommand;
use crate::protocol::headers::{CommandHeader, GetRouteInfoRequestHeader};
use crate::protocol::route::{BrokerData, ClusterInfo, MASTER_ID, QueueData, TopicRouteData};

/// GET_ALL_TOPIC_LIST_FROM_NAMESERVER (not a producer code, so not in `request_code`).
const GET_ALL_TOPIC_LIST_FROM_NAMESERVER: i32 = 206;

/// Replaces what the name server answers for one topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteOverride {
    /// Answer exactly this route.
    Route(TopicRouteData),
    /// Answer TOPIC_NOT_EXIST (17), even if brokers have the topic.
    NotExist,
}

fn broker_data(state: &ClusterState, name: &str) -> Option<BrokerData> {
    let b = state
        .brokers
        .iter()
        .find(|b| b.name == name && b.registered)?;
    Some(BrokerData {
        cluster: state.cluster_name.clone(),
        broker_name: b.name.clone(),
        broker_addrs: BTreeMap::from([(MASTER_ID, b.addr.to_string())]),
        zone_name: None,
        enable_acting_master: Some(false),
    })
}

/// The route the name server answers for `topic`, `None` meaning TOPIC_NOT_EXIST.
pub(crate) fn build_route(state: &ClusterState, topic: &str) -> Option<TopicRouteData> {
    match state.overrides.get(topic) {
        Some(RouteOverride::Route(r)) => return Some(r.clone()),
        Some(RouteOverride::NotExist) => return None,
        None => {}
    }
    let mut route = TopicRouteData::default();
    for (broker, conf) in state.topics.get(topic)? {
        // A broker the name server does not know (unregistered) is left out.
        let Some(data) = broker_data(state, broker) else {
            continue;
        };
        route.queue_datas.push(QueueData {
            broker_name: broker.clone(),
            read_queue_nums: conf.read_queues,
            write_queue_nums: conf.write_queues,
            perm: conf.perm,
            topic_sys_flag: 0,
        });
        route.broker_datas.push(data);
    }
    (!route.queue_datas.is_empty()).then_some(route)
}

pub(crate) fn cluster_info(state: &ClusterState) -> ClusterInfo {
    let mut info = ClusterInfo::default();
    let mut names = BTreeSet::new();
    for b in state.brokers.iter().filter(|b| b.registered) {
        if let Some(data) = broker_data(state, &b.name) {
            info.broker_addr_table.insert(b.name.clone(), data);
            names.insert(b.name.clone());
        }
    }
    if !names.is_empty() {
        info.cluster_addr_table
            .insert(state.cluster_name.clone(), names);
    }
    info
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TopicList<'a> {
    topic_list: Vec<&'a str>,
}

/// The name server's role: routes and cluster info from the cluster's topic table.
pub(crate) struct NameServer;

impl Handler for NameServer {
    fn handle(
        &self,
        core: &ServerCore,
        _conn: ConnectionId,
        _peer: SocketAddr,
        req: &RemotingCommand,
    ) -> Option<RemotingCommand> {
        handle(core, req)
    }
}

/// Answers one name-server request; `None` for oneway requests.
fn handle(core: &ServerCore, req: &RemotingCommand) -> Option<RemotingCommand> {
    let reply = match req.code {
        request_code::GET_ROUTEINFO_BY_TOPIC => {
            match GetRouteInfoRequestHeader::from_command(req) {
                Err(e) => response(req, response_code::SYSTEM_ERROR, Some(e.to_string())),
                Ok(h) => match build_route(&lock(&core.cluster), &h.topic) {
                    Some(route) => {
                        response(req, response_code::SUCCESS, None).with_body(route.encode())
                    }
                    None => response(
                        req,
                        response_code::TOPIC_NOT_EXIST,
                        Some(format!(
                            "No topic route info in name server for the topic: {}",
                            h.topic
                        )),
                    ),
                },
            }
        }
        request_code::GET_BROKER_CLUSTER_INFO => {
            let body = cluster_info(&lock(&core.cluster)).encode();
            response(req, response_code::SUCCESS, None).with_body(body)
        }
        GET_ALL_TOPIC_LIST_FROM_NAMESERVER => {
            let cl = lock(&core.cluster);
            let list = TopicList {
                topic_list: cl.topics.keys().map(String::as_str).collect(),
            };
            // A list of strings always serializes.
            let body = serde_json::to_vec(&list).unwrap_or_default();
            response(req, response_code::SUCCESS, None).with_body(body)
        }
        code => response(
            req,
            response_code::REQUEST_CODE_NOT_SUPPORTED,
            Some(format!("request type {code} not supported")),
        ),
    };
    (!req.is_oneway()).then_some(reply)
}
