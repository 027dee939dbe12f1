//! The ids this process makes: orders, outbox events, mails, claims, sessions, requests.
//!
//! `uuid`'s own `Uuid::now_v7` and `Uuid::new_v4` ask the kernel for their random bits (a
//! `getrandom` system call) on every call: seven calls per accepted order, two of them on the
//! order writer's thread, which bounds accepted orders. These draw their random bits from
//! `rand`'s thread-local generator instead, a CSPRNG seeded from the operating system, so an
//! id is as hard to guess (an order's id alone shows its status and items, docs/privacy.md).
//! `uuid`'s `fast-rng` feature would do the same through a second major version of `rand`.

use std::sync::{Mutex, PoisonError};

/// A UUIDv7 whose 12 bits after the millisecond count the ids of that millisecond (RFC 9562's
/// dedicated counter), so this process's ids sort in the order they were made, and whose last
/// 62 bits are random. `Uuid::now_v7` counts in those bits instead, so in a rush one id would
/// be 32 random bits from the next one's.
pub fn v7() -> uuid::Uuid {
    static LAST: Mutex<(u64, u16)> = Mutex::new((0, 0));
    let now = u64::try_from(crate::clock::now_millis()).unwrap_or(0);
    let (millis, count) = {
        let mut last = LAST.lock().unwrap_or_else(PoisonError::into_inner);
        *last = match *last {
            (ms, _) if now > ms => (now, 0),
            // A clock set back by more than a second is believed, or ids (and the export's
            // `made_by` watermark, which reads them) would stay ahead of it until it caught up.
            (ms, _) if now.saturating_add(1_000) < ms => (now, 0),
            (ms, n) if n < 0x0fff => (ms, n + 1),
            // 4,096 in one millisecond: borrow the next one, keeping the order.
            (ms, _) => (ms + 1, 0),
        };
        *last
    };
    let mut bytes: [u8; 10] = rand::random();
    // The builder keeps the low nibble of the first byte (the version takes the high one).
    [bytes[0], bytes[1]] = count.to_be_bytes();
    uuid::Builder::from_unix_timestamp_millis(millis, &bytes).into_uuid()
}

/// A random UUIDv4, for ids that need no order (a request's `x-request-id`): no lock shared
/// between threads, as [`v7`]'s counter is.
pub fn v4() -> uuid::Uuid {
    uuid::Builder::from_random_bytes(rand::random()).into_uuid()
}

#[cfg(test)]
mod tests {
    /// Ids made one after another sort in that order, and share nothing past the millisecond
    /// and its count: `Uuid::now_v7` would make the next one's 42 bits the last one's plus one.
    #[test]
    fn v7_ids_sort_as_made_and_keep_62_random_bits() {
        let ids: Vec<uuid::Uuid> = (0..5_000).map(|_| super::v7()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "strictly increasing");
        assert!(ids.iter().all(|id| id.get_version_num() == 7 && id.get_variant() == uuid::Variant::RFC4122));
        let millis = |id: &uuid::Uuid| id.as_u128() >> 80;
        let same_ms: Vec<_> = ids.windows(2).filter(|w| millis(&w[0]) == millis(&w[1])).collect();
        assert!(!same_ms.is_empty(), "5,000 ids take more than one millisecond each");
        // The 42 bits `now_v7` would count in: rand_a (12) and rand_b's top 30 past the variant.
        let counter = |id: &uuid::Uuid| (((id.as_u128() >> 64) & 0xfff) << 30) | ((id.as_u128() >> 32) & 0x3fff_ffff);
        let counted_up = same_ms.iter().filter(|w| counter(&w[1]) == counter(&w[0]) + 1).count();
        assert_eq!(counted_up, 0, "of {} pairs in one millisecond", same_ms.len());
        let random = |id: &uuid::Uuid| id.as_u128() & ((1 << 62) - 1);
        assert!(same_ms.iter().all(|w| random(&w[0]) != random(&w[1])));
    }

    #[test]
    fn v4_ids_are_random_rfc_4122_version_4() {
        let ids: std::collections::HashSet<uuid::Uuid> = (0..1_000).map(|_| super::v4()).collect();
        assert_eq!(ids.len(), 1_000);
        assert!(ids.iter().all(|id| id.get_version_num() == 4 && id.get_variant() == uuid::Variant::RFC4122));
    }
}
