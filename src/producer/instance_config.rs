//! The client-instance settings a producer config implies: the one place the
//! producer's settings meet the shared runtime's.
use super::config::ProducerConfig;
use crate::runtime::ConnectionConfig;
use crate::runtime::instance::InstanceConfig;
use crate::runtime::route_manager::RouteConfig;

/// The client-instance settings a producer config implies.
pub(crate) fn instance_config(cfg: &ProducerConfig, namesrv_addrs: Vec<String>) -> InstanceConfig {
    let connection = ConnectionConfig {
        connect_timeout: cfg.connect_timeout(),
        acl: cfg.acl_credentials().cloned(),
        tls: cfg.tls().cloned(),
        ..ConnectionConfig::default()
    };
    InstanceConfig {
        client_id: cfg.client_id(),
        route: RouteConfig {
            namesrv_addrs,
            api_timeout: cfg.mq_client_api_timeout(),
            poll_interval: cfg.poll_name_server_interval(),
            default_topic: cfg.create_topic_key().to_string(),
            default_topic_queue_nums: cfg.default_topic_queue_nums(),
            connection: connection.clone(),
        },
        heartbeat_interval: cfg.heartbeat_broker_interval(),
        api_timeout: cfg.mq_client_api_timeout(),
        connection,
        connection_arbiter: cfg.connection_arbiter(),
    }
}
