//! Test support for a Redis Cluster: its masters (`CLUSTER NODES`), a
//! connection to one node, and a slot moved from one master to another
//! the way `redis-cli --cluster reshard` does it.
#![allow(dead_code)]

/// A master of the cluster, from `CLUSTER NODES`.
pub struct Node {
    pub id: String,
    /// `host:port`.
    pub addr: String,
    /// The slot ranges it serves, inclusive.
    pub slots: Vec<(u16, u16)>,
}

/// The masters, as `seed` sees them.
pub fn cluster_nodes(seed: &str) -> Vec<Node> {
    let mut c = redis::Client::open(seed).unwrap().get_connection().unwrap();
    let text: String = redis::cmd("CLUSTER").arg("NODES").query(&mut c).unwrap();
    text.lines()
        .filter(|l| l.contains("master"))
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            let addr = f[1].split('@').next().unwrap().to_owned();
            let slots = f[8..]
                .iter()
                .filter(|s| !s.starts_with('['))
                .map(|s| match s.split_once('-') {
                    Some((a, b)) => (a.parse().unwrap(), b.parse().unwrap()),
                    None => (s.parse().unwrap(), s.parse().unwrap()),
                })
                .collect();
            Node {
                id: f[0].to_owned(),
                addr,
                slots,
            }
        })
        .collect()
}

/// A plain connection to one node (`host:port`).
pub fn node_conn(addr: &str) -> redis::Connection {
    redis::Client::open(format!("redis://{addr}"))
        .unwrap()
        .get_connection()
        .unwrap()
}

/// Moves `slot` from its master to another with the resharding protocol
/// (`SETSLOT IMPORTING/MIGRATING`, `MIGRATE`, `SETSLOT NODE`), as
/// `redis-cli --cluster reshard` does for each slot.
pub fn move_slot(seed: &str, slot: u16) -> String {
    let nodes = cluster_nodes(seed);
    let src = nodes
        .iter()
        .find(|n| n.slots.iter().any(|&(a, b)| (a..=b).contains(&slot)))
        .unwrap();
    let dst = nodes.iter().find(|n| n.id != src.id).unwrap();
    let (mut s, mut d) = (node_conn(&src.addr), node_conn(&dst.addr));
    let setslot = |c: &mut redis::Connection, args: &[&str]| {
        let mut cmd = redis::cmd("CLUSTER");
        cmd.arg("SETSLOT").arg(slot).arg(args);
        let () = cmd.query(c).unwrap();
    };
    setslot(&mut d, &["IMPORTING", &src.id]);
    setslot(&mut s, &["MIGRATING", &dst.id]);
    let (host, port) = dst.addr.rsplit_once(':').unwrap();
    loop {
        let keys: Vec<String> = redis::cmd("CLUSTER")
            .arg("GETKEYSINSLOT")
            .arg(slot)
            .arg(100)
            .query(&mut s)
            .unwrap();
        if keys.is_empty() {
            break;
        }
        let () = redis::cmd("MIGRATE")
            .arg(host)
            .arg(port)
            .arg("")
            .arg(0)
            .arg(5000)
            .arg("KEYS")
            .arg(&keys)
            .query(&mut s)
            .unwrap();
    }
    for n in &nodes {
        setslot(&mut node_conn(&n.addr), &["NODE", &dst.id]);
    }
    dst.addr.clone()
}

/// The slot of `key` (the server's `CLUSTER KEYSLOT`).
pub fn keyslot(seed: &str, key: &str) -> u16 {
    let mut c = redis::Client::open(seed).unwrap().get_connection().unwrap();
    redis::cmd("CLUSTER")
        .arg("KEYSLOT")
        .arg(key)
        .query(&mut c)
        .unwrap()
}

/// The first seed of a comma-separated list.
pub fn first_seed(list: &str) -> String {
    list.split(',').next().unwrap().trim().to_owned()
}
