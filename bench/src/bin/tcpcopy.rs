//! `tcpcopy`: the ceiling a collector is measured against. It relays every TCP connection
//! made to `--listen` to `--to` and back, copying the bytes through a user-space buffer and
//! nothing else: what a collector that only moved the bytes would cost on its core. Put in a
//! collector's place by `bench/run.sh` (`CEILING=1`), pinned to the same core, under the same
//! load. Stops on SIGTERM/SIGINT (the default action) or after `--max-time`.
#![forbid(unsafe_code)]

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use bench::parse_duration;
use clap::Parser;

#[derive(Parser, Debug)]
#[command(
    name = "tcpcopy",
    about = "Relay TCP connections from one loopback address to another, copying bytes only"
)]
struct Cli {
    /// Where clients connect (what the collector would listen on).
    #[arg(long)]
    listen: SocketAddr,
    /// Where every connection is relayed to (what the collector would export to).
    #[arg(long)]
    to: SocketAddr,
    /// Size of each direction's copy buffer, in KiB.
    #[arg(long, default_value_t = 64)]
    buffer_kib: usize,
    /// Exit after this long (e.g. 10m).
    #[arg(long, value_parser = parse_duration, default_value = "1h")]
    max_time: Duration,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let listener = TcpListener::bind(cli.listen)?;
    let max_time = cli.max_time;
    thread::spawn(move || {
        thread::sleep(max_time);
        std::process::exit(0);
    });
    let buffer = cli.buffer_kib.max(1) * 1024;
    for client in listener.incoming() {
        let client = match client {
            Ok(c) => c,
            Err(e) => {
                eprintln!("tcpcopy: accept: {e}");
                continue;
            }
        };
        let upstream = match TcpStream::connect(cli.to) {
            Ok(u) => u,
            Err(e) => {
                eprintln!("tcpcopy: connect {}: {e}", cli.to);
                continue;
            }
        };
        for s in [&client, &upstream] {
            let _ = s.set_nodelay(true);
        }
        let (c2, u2) = (client.try_clone()?, upstream.try_clone()?);
        thread::spawn(move || relay(client, upstream, buffer));
        thread::spawn(move || relay(u2, c2, buffer));
    }
    Ok(())
}

/// Copy `from` → `to` until `from` ends, then end `to`'s write side.
fn relay(mut from: TcpStream, mut to: TcpStream, buffer: usize) {
    let mut buf = vec![0u8; buffer];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}
