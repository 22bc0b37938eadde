//! Redis locked down: the service runs as a least-privilege ACL user (from the shipped
//! `deploy/redis/users.acl`), and credentials never reach its logs or error messages.

use shared::ServerMessage;

use crate::helpers::acl::{self, ADMIN, AclFile, SERVICE_PASSWORD};
use crate::helpers::layout;
use crate::helpers::{Cluster, RedisServer, WsClient, eventually};

/// A Redis started with the shipped ACL file.
async fn redis_with_acl() -> (RedisServer, AclFile) {
    let acl = AclFile::shipped();
    let redis = RedisServer::start_with_auth(
        &["--save", "", "--appendonly", "no", "--aclfile", &acl.path],
        ADMIN,
    )
    .await;
    (redis, acl)
}

fn service_url(redis: &RedisServer) -> String {
    acl::service_url("redis", redis.port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_works_as_its_least_privilege_user() {
    let (redis, _acl) = redis_with_acl().await;
    let url = service_url(&redis);
    let cluster = Cluster::redis_on(redis, 2, &["--redis-url", &url]).await;
    cluster.wait_ready(200).await;
    let mut watcher = WsClient::connect(&cluster.replicas[1].ws_url("global")).await;
    let mut writer = WsClient::connect(&cluster.replicas[0].ws_url("global")).await;
    let reply = writer.change(2, "acl-1").await;
    assert!(
        matches!(reply, ServerMessage::Ack { value: 2, .. }),
        "{reply:?}"
    );
    let again = writer.change(2, "acl-1").await;
    assert!(
        matches!(again, ServerMessage::Ack { value: 2, .. }),
        "{again:?}"
    );
    watcher.wait_for_value(2).await;
    // Presence uses the hash commands; it must work too.
    loop {
        if let ServerMessage::Presence { online: 2 } = watcher.next().await {
            break;
        }
    }
    assert_eq!(cluster.stored_value("global").await, 2);

    // What the service user may not do.
    let client = redis::Client::open(service_url(cluster.redis_server())).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    for command in [
        vec!["FLUSHALL"],
        vec!["KEYS", "*"],
        vec!["CONFIG", "GET", "maxmemory"],
        vec!["GET", "other:key"],
        // DEL is the service's since version 2 (deleting an owned counter), RENAME never.
        vec!["RENAME", &layout::value("global"), &layout::value("moved")],
    ] {
        let mut cmd = redis::cmd(command[0]);
        for arg in &command[1..] {
            cmd.arg(*arg);
        }
        let result: redis::RedisResult<redis::Value> = cmd.query_async(&mut conn).await;
        let err = result.expect_err(&format!("{command:?} must be refused"));
        let text = err.to_string().to_lowercase();
        assert!(text.contains("noperm"), "{command:?}: {err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_never_reach_logs_or_answers() {
    let (redis, _acl) = redis_with_acl().await;
    let url = service_url(&redis);
    let mut cluster = Cluster::redis_on(redis, 1, &["--redis-url", &url]).await;
    cluster.replicas[0].increment("global", 1, None).await;
    // Make the replica fail every way it can: Redis gone, then a wrong password.
    cluster.redis_server_mut().stop().await;
    let replica = &cluster.replicas[0];
    replica.wait_ready(503).await;
    let answer = replica.increment("global", 1, None).await;
    assert_eq!(answer.status, 503);
    let wrong = format!(
        "redis://counter-service:wrong-{SERVICE_PASSWORD}@127.0.0.1:{}/",
        cluster.redis_server().port
    );
    cluster.redis_server_mut().restart().await;
    let bad = crate::helpers::Replica::start(&[
        "--redis-url".into(),
        wrong.clone(),
        "--reconcile-interval-ms".into(),
        "300".into(),
    ])
    .await;
    eventually("the wrong password to be logged as a failure", || async {
        bad.logs().contains("authentication failed").then_some(())
    })
    .await;
    let answer = bad.increment("global", 1, None).await;
    assert_eq!(answer.status, 503);
    let text = answer.body.to_string();

    let logs = format!("{}\n{}", cluster.replicas[0].logs(), bad.logs());
    assert!(
        logs.contains("Redis subscriber lost"),
        "the outage is logged"
    );
    for secret in [SERVICE_PASSWORD, &format!("wrong-{SERVICE_PASSWORD}")] {
        assert!(!logs.contains(secret), "a password reached the logs");
        assert!(!text.contains(secret), "a password reached an answer");
    }
}

/// A certificate authority and a server certificate for 127.0.0.1, made for one test.
struct TestCertificates {
    /// Holds the PEM files the server and the replica read; removed on drop.
    dir: tempfile::TempDir,
}

impl TestCertificates {
    fn generate() -> Self {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "Shared Counter test CA");
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let server_key = KeyPair::generate().unwrap();
        let server_params =
            CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
        let server_cert = server_params.signed_by(&server_key, &issuer).unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.pem"), ca_cert.pem()).unwrap();
        std::fs::write(dir.path().join("server.pem"), server_cert.pem()).unwrap();
        std::fs::write(dir.path().join("server.key"), server_key.serialize_pem()).unwrap();
        Self { dir }
    }

    fn path(&self, file: &str) -> String {
        self.dir.path().join(file).display().to_string()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_works_over_tls_as_its_acl_user() {
    let certificates = TestCertificates::generate();
    let tls_port = crate::helpers::free_port().to_string();
    let (cert, key, ca) = (
        certificates.path("server.pem"),
        certificates.path("server.key"),
        certificates.path("ca.pem"),
    );
    let acl = AclFile::shipped();
    // The plain port is for the test's own admin connection; the replicas get only the
    // TLS port.
    let redis = RedisServer::start_with_auth(
        &[
            "--save",
            "",
            "--appendonly",
            "no",
            "--aclfile",
            &acl.path,
            "--tls-port",
            &tls_port,
            "--tls-cert-file",
            &cert,
            "--tls-key-file",
            &key,
            "--tls-ca-cert-file",
            &ca,
            "--tls-auth-clients",
            "no",
        ],
        ADMIN,
    )
    .await;
    let url = acl::service_url("rediss", &tls_port);
    let cluster = Cluster::redis_on(redis, 2, &["--redis-url", &url, "--redis-ca-file", &ca]).await;
    cluster.wait_ready(200).await;
    let mut watcher = WsClient::connect(&cluster.replicas[1].ws_url("global")).await;
    let answer = cluster.replicas[0]
        .increment("global", 3, Some("tls-1"))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    watcher.wait_for_value(3).await;
    assert_eq!(cluster.stored_value("global").await, 3);

    // Without the CA the server's certificate is not trusted: the replica never gets ready.
    let untrusting = crate::helpers::Replica::start(&["--redis-url".into(), url.clone()]).await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(untrusting.readyz().await, 503);
    assert!(!untrusting.logs().contains(SERVICE_PASSWORD));
}
