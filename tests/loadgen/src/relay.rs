//! The relay under the bench's floor: every datagram it receives goes straight back out to one
//! address, with no media work in between.
//!
//! `floor.py` times the path through it the way the load generator times the path through an
//! SFU, so what an SFU adds above this relay is its own work. It is native code that sleeps in
//! `recvfrom` between datagrams, as the SFU's media worker sleeps between packets; an
//! interpreter's per-datagram overhead in the relay would raise the floor and flatter the
//! server measured against it. It stops on the datagram `stop`, or after a while without input.

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use anyhow::Context;

/// The datagram that ends the relay.
const STOP: &[u8] = b"stop";
/// Without input for this long, the relay ends by itself.
const IDLE_LIMIT: Duration = Duration::from_secs(30);

/// Relays until `stop` arrives or the input stops; returns the number of datagrams relayed.
pub fn relay(bind: SocketAddr, to: SocketAddr) -> anyhow::Result<u64> {
    let socket = UdpSocket::bind(bind).with_context(|| format!("binding the relay to {bind}"))?;
    socket.set_read_timeout(Some(IDLE_LIMIT))?;
    let mut buffer = [0u8; 2048];
    let mut relayed = 0u64;
    loop {
        let (len, _) = match socket.recv_from(&mut buffer) {
            Ok(received) => received,
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                anyhow::bail!(
                    "no datagram for {} s; the relay gives up",
                    IDLE_LIMIT.as_secs()
                )
            }
            Err(error) => return Err(error).context("relay receive"),
        };
        let datagram = &buffer[..len];
        if datagram == STOP {
            return Ok(relayed);
        }
        socket.send_to(datagram, to).context("relay send")?;
        relayed += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relays_datagrams_to_the_target_until_stop() {
        let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
        let relay_address: SocketAddr = {
            // Any free port: bind, note it, release it for the relay.
            let probe = UdpSocket::bind("127.0.0.1:0").unwrap();
            probe.local_addr().unwrap()
        };
        let target = receiver.local_addr().unwrap();
        let running = std::thread::spawn(move || relay(relay_address, target));
        let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
        // The relay may not be bound yet: send until the first datagram comes back.
        let mut buffer = [0u8; 64];
        let mut first = None;
        receiver
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        for _ in 0..50 {
            sender.send_to(b"hello", relay_address).unwrap();
            if let Ok((len, _)) = receiver.recv_from(&mut buffer) {
                first = Some(buffer[..len].to_vec());
                break;
            }
        }
        assert_eq!(first.as_deref(), Some(&b"hello"[..]));
        // Drain extra copies of the first datagram sent before the relay was up.
        receiver
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        while receiver.recv_from(&mut buffer).is_ok() {}
        sender.send_to(b"second", relay_address).unwrap();
        receiver
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let (len, _) = receiver.recv_from(&mut buffer).unwrap();
        assert_eq!(&buffer[..len], b"second");
        sender.send_to(STOP, relay_address).unwrap();
        let relayed = running.join().unwrap().unwrap();
        assert!(relayed >= 2, "relayed {relayed}");
        // `stop` itself is not relayed.
        receiver
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        assert!(receiver.recv_from(&mut buffer).is_err());
    }
}
