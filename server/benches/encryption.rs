//! Micro-benchmark of encryption at rest: sealing one 64 KiB chunk (AES-256-GCM, the chunk
//! index and final flag authenticated).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use remote_assist::storage::crypto::{CHUNK_SIZE, DataKey, Encryptor};

fn encrypt_one_chunk(c: &mut Criterion) {
    let chunk = vec![0x5Au8; CHUNK_SIZE];
    let mut group = c.benchmark_group("encryption");
    group.throughput(Throughput::Bytes(CHUNK_SIZE as u64));
    group.bench_function("encrypt one 64 KiB chunk", |b| {
        let mut encryptor = Encryptor::new(DataKey::generate(), "bench");
        b.iter(|| {
            // The chunk is sealed when the next byte arrives; flush_full seals it at once.
            let _ = encryptor.update(&chunk);
            std::hint::black_box(encryptor.flush_full())
        })
    });
    group.finish();
}

criterion_group!(benches, encrypt_one_chunk);
criterion_main!(benches);
