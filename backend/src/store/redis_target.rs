//! Where the Redis primary is, as `--redis-url` says: one server (`redis://…`, `rediss://…`),
//! or whichever server Redis Sentinel names the primary of a monitored master
//! (`redis+sentinel://[user:password@]host:port[,host:port…]/master-name[/db]`).
//!
//! One URL rather than flags of their own: the store's whereabouts and its secret stay one
//! value in one variable (`REDIS_URL`, hidden from logs and `ps`), and there is no
//! combination of settings that must agree.

use redis::{
    Client, ConnectionAddr, ConnectionInfo, IntoConnectionInfo, RedisConnectionInfo, RedisError,
};

/// The scheme of a Sentinel URL.
const SENTINEL_SCHEME: &str = "redis+sentinel://";

/// The port Sentinel listens on when a URL names none.
const SENTINEL_PORT: u16 = 26379;

/// Where the replica's Redis primary is.
pub enum RedisTarget {
    /// One server at a fixed address; connections to it reconnect to the same address.
    Server(Client),
    /// The primary Sentinel names, asked again whenever the primary may have changed.
    Sentinel(SentinelTarget),
}

/// The sentinels and what to ask them.
#[derive(Debug)]
pub struct SentinelTarget {
    /// The sentinels, asked in turn until one names a primary that says it is one.
    pub sentinels: Vec<ConnectionInfo>,
    /// The master's name in the sentinels' configuration (`sentinel monitor NAME …`).
    pub master: String,
    /// How to log in to the primary Sentinel names (user, password, database); the
    /// sentinels themselves are asked without credentials.
    pub login: RedisConnectionInfo,
}

impl RedisTarget {
    /// Reads `--redis-url`. A `redis+sentinel://` URL is split here (the `redis` crate reads
    /// only single-server URLs); every other URL is the crate's.
    pub fn parse(url: &str) -> Result<Self, RedisError> {
        if url.starts_with("rediss+sentinel://") {
            return Err(invalid(
                "TLS through Sentinel (rediss+sentinel://) is not supported; use \
                 redis+sentinel:// on a trusted network, or rediss:// to one server",
            ));
        }
        match url.strip_prefix(SENTINEL_SCHEME) {
            Some(rest) => SentinelTarget::parse(rest).map(Self::Sentinel),
            None => Client::open(url).map(Self::Server),
        }
    }
}

impl SentinelTarget {
    /// Reads what follows `redis+sentinel://`.
    fn parse(rest: &str) -> Result<Self, RedisError> {
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (userinfo, hosts) = match authority.rsplit_once('@') {
            Some((userinfo, hosts)) => (Some(userinfo), hosts),
            None => (None, authority),
        };
        let sentinels = hosts
            .split(',')
            .map(sentinel_address)
            .collect::<Result<Vec<_>, _>>()?;
        let (master, db) = match path.split_once('/') {
            Some((master, db)) => (master, db.trim_end_matches('/')),
            None => (path, ""),
        };
        if master.is_empty() {
            return Err(invalid(
                "a redis+sentinel:// URL names the master after the hosts: \
                 redis+sentinel://host:26379,host:26380/mymaster",
            ));
        }
        // The login is read by the crate's own URL parser (percent-decoding included), from
        // a URL that differs from a single-server one only in its host.
        let login = match userinfo {
            Some(userinfo) => format!("redis://{userinfo}@localhost/{db}"),
            None => format!("redis://localhost/{db}"),
        };
        let login = login
            .as_str()
            .into_connection_info()?
            .redis_settings()
            .clone();
        Ok(Self {
            sentinels,
            master: master.to_owned(),
            login,
        })
    }
}

/// One `host:port` (or `[v6]:port`, or a host alone for port 26379) of a Sentinel URL.
fn sentinel_address(text: &str) -> Result<ConnectionInfo, RedisError> {
    let (host, port) = match text.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(':') => {
            let port = port
                .parse()
                .map_err(|_| invalid("a sentinel's port is not a number"))?;
            (host, port)
        }
        _ => (text, SENTINEL_PORT),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(invalid(
            "a redis+sentinel:// URL lists an empty sentinel host",
        ));
    }
    ConnectionAddr::Tcp(host.to_owned(), port).into_connection_info()
}

fn invalid(why: &'static str) -> RedisError {
    RedisError::from((redis::ErrorKind::InvalidClientConfig, why))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sentinel(url: &str) -> SentinelTarget {
        match RedisTarget::parse(url) {
            Ok(RedisTarget::Sentinel(target)) => target,
            Ok(RedisTarget::Server(_)) => panic!("{url} read as one server"),
            Err(err) => panic!("{url}: {err}"),
        }
    }

    #[test]
    fn a_sentinel_url_lists_sentinels_names_the_master_and_logs_in_to_the_primary() {
        let target = sentinel(
            "redis+sentinel://counter-service:p%40ss@10.0.0.1:26379,10.0.0.2:26380,s3/mymaster/2",
        );
        let addresses: Vec<String> = target
            .sentinels
            .iter()
            .map(|info| info.addr().to_string())
            .collect();
        assert_eq!(addresses, ["10.0.0.1:26379", "10.0.0.2:26380", "s3:26379"]);
        assert_eq!(target.master, "mymaster");
        assert_eq!(target.login.username(), Some("counter-service"));
        assert_eq!(target.login.password(), Some("p@ss"));
        assert_eq!(target.login.db(), 2);
    }

    #[test]
    fn a_sentinel_url_without_login_or_database_uses_none() {
        let target = sentinel("redis+sentinel://[::1]:5000/m");
        assert_eq!(target.sentinels[0].addr().to_string(), "::1:5000");
        assert_eq!(target.login.username(), None);
        assert_eq!(target.login.password(), None);
        assert_eq!(target.login.db(), 0);
    }

    #[test]
    fn wrong_sentinel_urls_are_refused_at_start() {
        for url in [
            "redis+sentinel://127.0.0.1:26379",
            "redis+sentinel://127.0.0.1:26379/",
            "redis+sentinel://127.0.0.1:port/m",
            "redis+sentinel://a:1,,b:2/m",
            "rediss+sentinel://127.0.0.1:26379/m",
        ] {
            assert!(RedisTarget::parse(url).is_err(), "{url} was accepted");
        }
    }

    #[test]
    fn other_urls_name_one_server() {
        assert!(matches!(
            RedisTarget::parse("redis://127.0.0.1:6379/"),
            Ok(RedisTarget::Server(_))
        ));
    }
}
