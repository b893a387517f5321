//! The in-process null-mode test cluster on a thread and runtime of its own.

use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use actix_rocketmq::producer::trace::DEFAULT_TRACE_TOPIC;
use actix_rocketmq::testkit::TestCluster;

use crate::cli::BrokerFault;
use crate::resources::{CpuTime, thread_cpu};

pub struct NullBroker {
    pub namesrv: String,
    /// Each request is answered with the broker thread's CPU time; dropping it stops the cluster.
    cpu_requests: Option<tokio::sync::mpsc::UnboundedSender<std_mpsc::Sender<Option<CpuTime>>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl NullBroker {
    pub fn start(
        topic: &str,
        fault: Option<(BrokerFault, Duration)>,
    ) -> Result<NullBroker, String> {
        let (ready_tx, ready_rx) = std_mpsc::channel::<Result<String, String>>();
        let (cpu_tx, mut cpu_rx) =
            tokio::sync::mpsc::unbounded_channel::<std_mpsc::Sender<Option<CpuTime>>>();
        let topic = topic.to_owned();
        let thread = std::thread::Builder::new()
            .name("null-broker".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                rt.block_on(async move {
                    let cluster = match TestCluster::builder()
                        .broker("broker-a")
                        .topic(topic, 4)
                        // Where --trace sends its records.
                        .topic(DEFAULT_TRACE_TOPIC, 4)
                        .null_brokers(true)
                        .start()
                        .await
                    {
                        Ok(c) => c,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e.to_string()));
                            return;
                        }
                    };
                    let _ = ready_tx.send(Ok(cluster.namesrv_addr()));
                    let broker = cluster.broker("broker-a");
                    let mut fault = fault.map(|(f, after)| (f, tokio::time::Instant::now() + after));
                    loop {
                        let fault_at = fault.map(|(_, at)| at);
                        tokio::select! {
                            req = cpu_rx.recv() => match req {
                                Some(reply) => {
                                    let _ = reply.send(thread_cpu());
                                }
                                None => break,
                            },
                            _ = tokio::time::sleep_until(fault_at.unwrap_or_else(tokio::time::Instant::now)), if fault_at.is_some() => {
                                match fault.take() {
                                    Some((BrokerFault::Stop, _)) => {
                                        eprintln!("null broker: stopped (--broker-fault stop)");
                                        let _ = broker.stop().await;
                                    }
                                    Some((BrokerFault::Freeze, _)) => {
                                        eprintln!("null broker: frozen (--broker-fault freeze)");
                                        broker.freeze();
                                    }
                                    None => {}
                                }
                            }
                        }
                    }
                    let _ = tokio::time::timeout(Duration::from_secs(1), cluster.shutdown()).await;
                });
            })
            .map_err(|e| e.to_string())?;
        let namesrv = ready_rx
            .recv_timeout(Duration::from_secs(10))
            .map_err(|e| format!("the null broker did not start: {e}"))??;
        Ok(NullBroker {
            namesrv,
            cpu_requests: Some(cpu_tx),
            thread: Some(thread),
        })
    }

    /// The broker thread's CPU time so far.
    pub fn cpu(&self) -> Option<CpuTime> {
        let (tx, rx) = std_mpsc::channel();
        self.cpu_requests.as_ref()?.send(tx).ok()?;
        rx.recv_timeout(Duration::from_secs(1)).ok().flatten()
    }

    pub fn stop(mut self) {
        self.cpu_requests.take();
        if let Some(t) = self.thread.take() {
            // Bounded: the thread gives the cluster 1 s to shut down.
            let deadline = Instant::now() + Duration::from_secs(2);
            while !t.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}
