use actix_rocketmq::testkit::TestCluster;
use actix_rocketmq::{Message, ProducerActor, ProducerConfig, SendMessage, Shutdown};

#[actix_rt::test]
async fn smoke_send_to_test_broker() {
    let cluster = TestCluster::builder()
        .broker("broker-a")
        .topic("TopicTest", 4)
        .start()
        .await
        .unwrap();
    let cfg = ProducerConfig::builder("smoke_group")
        .namesrv_addr(&cluster.namesrv_addr())
        .build()
        .unwrap();
    let producer = ProducerActor::start(cfg).await.unwrap();
    for i in 0..10 {
        let r = producer
            .send(SendMessage::new(
                Message::new("TopicTest", format!("hello {i}")).with_tags("TagA"),
            ))
            .await
            .unwrap();
        let r = r.unwrap();
        println!("{r:?}");
    }
    producer.send(Shutdown).await.unwrap();
    assert_eq!(cluster.broker("broker-a").messages("TopicTest").len(), 10);
}
