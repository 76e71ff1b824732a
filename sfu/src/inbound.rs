//! The receive side of the media socket: what the kernel has queued is read in batches
//! (`recvmmsg`, with the kernel's arrival time of each datagram) into one queue per sender, and
//! the worker takes datagrams from those queues in turn, one per sender per round.
//!
//! Served in arrival order, one camera's keyframe (about 30 datagrams at 1 Mbit/s) holds up
//! every other peer's packets for as long as the worker needs for all of it; the next camera's
//! frame and everyone's audio wait behind it. Served in turn, a datagram waits behind at most one
//! datagram of each other sender that has something queued. Each sender's own datagrams keep
//! their order. The kernel's arrival time also tells how long a datagram waited before the
//! worker took it, the first sign of a worker that cannot keep up (`/metrics`).

use std::collections::VecDeque;
use std::io::IoSliceMut;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant, SystemTime};

use nix::sys::socket::{ControlMessageOwned, MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg};

/// Largest datagram we accept (the browsers' MTU is ~1200–1500).
pub(crate) const MAX_DATAGRAM: usize = 2048;
/// Datagrams read from the kernel per system call at most.
const READ_BATCH: usize = 32;
/// Datagrams held in the queues at most; beyond this they wait in the kernel's buffer.
const MAX_QUEUED: usize = 1024;

/// One received datagram.
pub(crate) struct Datagram {
    pub data: Vec<u8>,
    pub from: SocketAddr,
    /// When the kernel received it (this process's monotonic clock).
    pub arrived: Instant,
}

struct SenderQueue {
    from: SocketAddr,
    datagrams: VecDeque<Datagram>,
}

pub(crate) struct Inbound {
    /// Senders with datagrams queued, in the order they are served next.
    senders: VecDeque<SenderQueue>,
    /// Emptied sender queues and datagram buffers, kept for reuse.
    spare_queues: Vec<VecDeque<Datagram>>,
    spare_buffers: Vec<Vec<u8>>,
    queued: usize,
    /// The buffers `recvmmsg` fills, copied out into the queues.
    read_buffers: Box<[[u8; MAX_DATAGRAM]; READ_BATCH]>,
    headers: MultiHeaders<SockaddrStorage>,
    /// Length, sender and arrival of each datagram of the last read (reused).
    batch: Vec<(usize, Option<SocketAddr>, Instant)>,
}

impl Inbound {
    /// Asks the kernel to timestamp every datagram on `socket`.
    pub(crate) fn new(socket: &tokio::net::UdpSocket) -> std::io::Result<Self> {
        nix::sys::socket::setsockopt(socket, nix::sys::socket::sockopt::ReceiveTimestampns, &true)?;
        let control = nix::cmsg_space!(nix::sys::time::TimeSpec);
        Ok(Self {
            senders: VecDeque::new(),
            spare_queues: Vec::new(),
            spare_buffers: Vec::new(),
            queued: 0,
            read_buffers: Box::new([[0u8; MAX_DATAGRAM]; READ_BATCH]),
            headers: MultiHeaders::preallocate(READ_BATCH, Some(control)),
            batch: Vec::with_capacity(READ_BATCH),
        })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.queued == 0
    }

    /// Reads what the kernel has queued (without waiting), up to the queues' limit. Returns
    /// how many datagrams were read; `WouldBlock` when there were none.
    pub(crate) fn fill(&mut self, socket: &tokio::net::UdpSocket) -> std::io::Result<usize> {
        let mut total = 0;
        while self.queued < MAX_QUEUED {
            let read = socket.try_io(tokio::io::Interest::READABLE, || {
                self.read_batch(socket).map_err(std::io::Error::from)
            });
            match read {
                Ok(n) => {
                    total += n;
                    if n < READ_BATCH {
                        break;
                    }
                }
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock && total > 0 => break,
                Err(error) => return Err(error),
            }
        }
        Ok(total)
    }

    /// One `recvmmsg`: the datagrams into their senders' queues.
    fn read_batch(&mut self, socket: &tokio::net::UdpSocket) -> nix::Result<usize> {
        let room = (MAX_QUEUED - self.queued).min(READ_BATCH);
        let mut slices = self
            .read_buffers
            .each_mut()
            .map(|buffer| [IoSliceMut::new(buffer)]);
        let results = recvmmsg(
            socket.as_raw_fd(),
            &mut self.headers,
            slices.iter_mut().take(room),
            MsgFlags::MSG_DONTWAIT,
            None,
        )?;
        // The kernel stamps with the wall clock; the worker measures with the monotonic one.
        let (wall_now, now) = (SystemTime::now(), Instant::now());
        let mut batch = std::mem::take(&mut self.batch);
        for message in results {
            let from = message.address.as_ref().and_then(socket_addr);
            let mut arrived = now;
            if let Ok(controls) = message.cmsgs() {
                for control in controls {
                    if let ControlMessageOwned::ScmTimestampns(at) = control {
                        let age = wall_now
                            .duration_since(SystemTime::UNIX_EPOCH + Duration::from(at))
                            .unwrap_or_default();
                        arrived = now.checked_sub(age).unwrap_or(now);
                    }
                }
            }
            batch.push((message.bytes, from, arrived));
        }
        let count = batch.len();
        for (index, (len, from, arrived)) in batch.drain(..).enumerate() {
            // A datagram without an IP sender cannot be answered.
            let Some(from) = from else { continue };
            let mut data = self.spare_buffers.pop().unwrap_or_default();
            data.clear();
            data.extend_from_slice(&self.read_buffers[index][..len]);
            self.push(Datagram {
                data,
                from,
                arrived,
            });
        }
        self.batch = batch;
        Ok(count)
    }

    fn push(&mut self, datagram: Datagram) {
        self.queued += 1;
        if let Some(queue) = self.senders.iter_mut().find(|q| q.from == datagram.from) {
            queue.datagrams.push_back(datagram);
            return;
        }
        let mut datagrams = self.spare_queues.pop().unwrap_or_default();
        let from = datagram.from;
        datagrams.push_back(datagram);
        self.senders.push_back(SenderQueue { from, datagrams });
    }

    /// The next datagram: the oldest of the sender whose turn it is.
    pub(crate) fn next(&mut self) -> Option<Datagram> {
        let mut queue = self.senders.pop_front()?;
        let datagram = queue.datagrams.pop_front()?;
        self.queued -= 1;
        if queue.datagrams.is_empty() {
            self.spare_queues.push(queue.datagrams);
        } else {
            self.senders.push_back(queue);
        }
        Some(datagram)
    }

    /// Gives a handled datagram's buffer back for the next read.
    pub(crate) fn recycle(&mut self, datagram: Datagram) {
        if self.spare_buffers.len() < MAX_QUEUED {
            self.spare_buffers.push(datagram.data);
        }
    }
}

fn socket_addr(address: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = address.as_sockaddr_in() {
        return Some(SocketAddr::from(*v4));
    }
    address.as_sockaddr_in6().map(|v6| SocketAddr::from(*v6))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn datagram(from: SocketAddr, byte: u8) -> Datagram {
        Datagram {
            data: vec![byte],
            from,
            arrived: Instant::now(),
        }
    }

    #[tokio::test]
    async fn senders_take_turns_and_each_keeps_its_order() {
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let mut inbound = Inbound::new(&socket).unwrap();
        let (a, b, c): (SocketAddr, SocketAddr, SocketAddr) = (
            "127.0.0.1:1".parse().unwrap(),
            "127.0.0.1:2".parse().unwrap(),
            "127.0.0.1:3".parse().unwrap(),
        );
        // A's burst arrives first, then one datagram each of B and C.
        for byte in 0..5 {
            inbound.push(datagram(a, byte));
        }
        inbound.push(datagram(b, 10));
        inbound.push(datagram(c, 20));
        let order: Vec<(u16, u8)> = std::iter::from_fn(|| inbound.next())
            .map(|d| (d.from.port(), d.data[0]))
            .collect();
        assert_eq!(
            order,
            [(1, 0), (2, 10), (3, 20), (1, 1), (1, 2), (1, 3), (1, 4)]
        );
        assert!(inbound.is_empty());
    }

    #[tokio::test]
    async fn reads_what_the_kernel_queued_with_its_arrival_time() {
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let mut inbound = Inbound::new(&socket).unwrap();
        let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let before = Instant::now();
        for i in 0..(READ_BATCH + 5) {
            sender
                .send_to(&[i as u8; 100], socket.local_addr().unwrap())
                .unwrap();
        }
        // Wait until the last has arrived, then read everything in one go.
        let mut total = 0;
        let deadline = Instant::now() + Duration::from_secs(5);
        while total < READ_BATCH + 5 && Instant::now() < deadline {
            socket.readable().await.unwrap();
            total += inbound.fill(&socket).unwrap_or(0);
        }
        assert_eq!(total, READ_BATCH + 5);
        let mut expected = 0u8;
        while let Some(d) = inbound.next() {
            assert_eq!(d.from, sender.local_addr().unwrap());
            assert_eq!(d.data, vec![expected; 100]);
            // Stamped by the kernel: after we started sending, not in the future.
            assert!(d.arrived + Duration::from_millis(2) >= before);
            assert!(d.arrived <= Instant::now());
            expected += 1;
            inbound.recycle(d);
        }
        assert_eq!(usize::from(expected), READ_BATCH + 5);
        assert!(
            matches!(inbound.fill(&socket), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
        );
    }
}
