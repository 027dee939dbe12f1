//! The waiting room of a flash sale: signed queue tickets and the admission rule. Pure: the
//! store keeps tickets and the room's state, the web layer reads the clock.
//!
//! # Order in line
//! A ticket's *rank* orders the line (smaller is earlier) and is a function of the signed
//! ticket alone, so no store has to keep a shared counter per join:
//! - joined in the pre-queue window (before the sale opens): a keyed draw, the top bits of the
//!   ticket's HMAC tag, below every later rank. Loading the page a day early buys nothing.
//! - joined from opening on: `2^62 + arrival_µs × 1024 + tiebreak`, i.e. arrival order.
//!
//! # Admission rule
//! The room keeps a serving *watermark* (a rank): tickets at or under it are admitted, from
//! the moment the watermark passed them, for `admissionMinutes`. Each advance (at most once
//! per tick, by whichever request finds the room due) admits the next `n` tickets where
//! `n = stock_left − still_deciding`, and `still_deciding` = people admitted within the last
//! admission window minus those of them who have bought. Who bought is known from the
//! purchase marks on their tickets, which the store counts per step at each advance that
//! could let in more than the units beyond everyone let in within the window; where no count
//! has reached, from the units sold since that window began (less the sales that people
//! admitted before it, still deciding then, may have made), which holds a lapsed admission's
//! unit until every window it was counted in has closed and takes a buyer of several units
//! for as many people. Everyone admitted and
//! not yet done may buy, so the line moves as fast as units are bought or admissions lapse.
//! With `admissionsPerMinute` set, `n` is further capped so that at most that many people per
//! minute have been let in since opening, evenly: at most one second's worth at once (at
//! opening too), and no more than the time since the last advance allows, so time without an
//! advance is not made up in a burst. Nobody is admitted before opening; when stock runs out
//! every ticket reads `soldOut`.

use crate::signing::TAG_BYTES;
use crate::{CustomerKey, Millis, Signer};
use serde::{Deserialize, Serialize};

/// Purpose of a queue ticket's tag.
pub const QUEUE_TICKET: &str = "queue-ticket";

/// How long a ticket is honoured after it was issued: a line is for one sale, not for ever.
/// A ticket taken in the pre-queue window lives that much longer again at most
/// ([`MAX_PRE_QUEUE_MINUTES`]), so a place taken days before opening is still good then.
pub const TICKET_LIFETIME: Millis = 24 * 3_600_000;

/// The longest pre-queue window a sale may have (`preQueueMinutes`): a week.
pub const MAX_PRE_QUEUE_MINUTES: u32 = 7 * 24 * 60;

/// Clock difference between instances tolerated on a ticket's issue time.
const CLOCK_SKEW: Millis = 60_000;

/// Ranks of tickets joined from opening on start here; drawn ranks lie below.
const ARRIVAL_BASE: u64 = 1 << 62;

/// A product's waiting-room setting (`sale.waitingRoom`); absent means no waiting room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WaitingRoomRules {
    /// How long an admission lasts.
    #[serde(default = "default_admission_minutes")]
    pub admission_minutes: u32,
    /// Minutes before the sale opens in which joining is allowed and places are drawn at random.
    #[serde(default)]
    pub pre_queue_minutes: u32,
    /// Most people let in per minute; `None` derives the pace from stock alone.
    #[serde(default)]
    pub admissions_per_minute: Option<u32>,
}

fn default_admission_minutes() -> u32 {
    5
}

impl Default for WaitingRoomRules {
    fn default() -> Self {
        WaitingRoomRules {
            admission_minutes: default_admission_minutes(),
            pre_queue_minutes: 0,
            admissions_per_minute: None,
        }
    }
}

impl WaitingRoomRules {
    pub fn admission_ms(&self) -> Millis {
        Millis::from(self.admission_minutes) * 60_000
    }

    /// Checks the setting before it is stored.
    pub fn validate(&self) -> Result<(), crate::ValidationError> {
        use crate::ValidationError as E;
        if !(1..=60).contains(&self.admission_minutes) {
            return Err(E::new("sale.waitingRoom.admissionMinutes", "must be 1 to 60"));
        }
        if self.pre_queue_minutes > MAX_PRE_QUEUE_MINUTES {
            return Err(E::new("sale.waitingRoom.preQueueMinutes", "must be at most 10080 (a week)"));
        }
        if self.admissions_per_minute == Some(0) {
            return Err(E::new("sale.waitingRoom.admissionsPerMinute", "must be at least 1, or left out"));
        }
        Ok(())
    }

    /// When joining opens: the pre-queue window before `opens_at`, or at once without an opening time.
    pub fn line_opens(&self, opens_at: Option<Millis>) -> Option<Millis> {
        opens_at.map(|o| o - Millis::from(self.pre_queue_minutes) * 60_000)
    }
}

/// What a queue ticket binds: who, for what, and when they arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    pub product_id: String,
    pub customer: CustomerKey,
    /// Microseconds since the epoch when the customer joined.
    pub arrival_us: i64,
    /// Random, orders joins within the same microsecond.
    pub tiebreak: u16,
    /// Whether the customer joined in the pre-queue window, so their place is drawn.
    pub drawn: bool,
    pub issued_at: Millis,
}

/// Why a ticket was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TicketError {
    #[error("this is not a queue ticket this shop issued")]
    Malformed,
    #[error("this queue ticket has been altered or was not signed by this shop")]
    BadSignature,
    #[error("this queue ticket has expired: join the line again")]
    Expired,
    #[error("this queue ticket is for another product")]
    OtherProduct,
    #[error("this queue ticket belongs to another customer")]
    OtherCustomer,
}

/// A ticket opened from its token, with the rank its tag gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedTicket {
    pub ticket: Ticket,
    pub token: String,
    pub rank: u64,
}

impl Ticket {
    /// A ticket for someone joining at `now_us`; `opens_at` decides whether their place is drawn.
    pub fn new(
        product_id: &str,
        customer: CustomerKey,
        now_us: i64,
        tiebreak: u16,
        opens_at: Option<Millis>,
    ) -> Ticket {
        let now_ms = now_us.div_euclid(1000);
        Ticket {
            product_id: product_id.to_owned(),
            customer,
            arrival_us: now_us,
            tiebreak,
            drawn: opens_at.is_some_and(|o| now_ms < o),
            issued_at: now_ms,
        }
    }

    fn message(&self) -> String {
        // Built by hand, not with `format!`: this runs on every join (BENCHMARKS.md).
        let (mut arrival, mut tiebreak, mut issued) = (itoa::Buffer::new(), itoa::Buffer::new(), itoa::Buffer::new());
        let fields = [
            "v1",
            &self.product_id,
            arrival.format(self.arrival_us),
            tiebreak.format(self.tiebreak),
            if self.drawn { "1" } else { "0" },
            issued.format(self.issued_at),
            // The customer key goes last: it is the one field that may hold any visible character.
            &self.customer.0,
        ];
        let mut message = String::with_capacity(fields.iter().map(|f| f.len() + 1).sum());
        for (i, field) in fields.iter().enumerate() {
            if i > 0 {
                message.push('|');
            }
            message.push_str(field);
        }
        message
    }

    /// The opaque token handed to the customer: the message in hex, a dot, its tag.
    pub fn seal(self, signer: &Signer) -> SealedTicket {
        let message = self.message();
        let tag = signer.sign(QUEUE_TICKET, &message);
        let token = token(message.as_bytes(), &tag);
        let rank = rank(&self, &tag);
        SealedTicket { ticket: self, token, rank }
    }

    /// Opens and checks a token: signature under any current secret, and age at `now`.
    pub fn open(token: &str, signer: &Signer, now: Millis) -> Result<SealedTicket, TicketError> {
        let (body, tag) = token.trim().split_once('.').ok_or(TicketError::Malformed)?;
        let message = hex::decode(body).ok().and_then(|b| String::from_utf8(b).ok()).ok_or(TicketError::Malformed)?;
        if !signer.verify(QUEUE_TICKET, &message, tag) {
            return Err(TicketError::BadSignature);
        }
        let ticket = parse(&message).ok_or(TicketError::Malformed)?;
        let pre_queue = if ticket.drawn { Millis::from(MAX_PRE_QUEUE_MINUTES) * 60_000 } else { 0 };
        if ticket.issued_at > now + CLOCK_SKEW || now >= ticket.issued_at + TICKET_LIFETIME + pre_queue {
            return Err(TicketError::Expired);
        }
        let rank = rank(&ticket, tag);
        Ok(SealedTicket { ticket, token: token.trim().to_owned(), rank })
    }
}

/// A token as the bytes it spells (its message, then its tag): what a store may keep instead
/// of the token's text, in a little over half the room. `None` for a token not written as
/// this shop writes them (lowercase hex, a dot, a tag of the signer's length), which a store
/// then keeps as text; [`token_from_bytes`] gives back exactly the token these came from.
pub fn token_bytes(token: &str) -> Option<Vec<u8>> {
    let (body, tag) = token.split_once('.')?;
    let lower_hex = |s: &str| s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if tag.len() != 2 * TAG_BYTES || !lower_hex(body) || !lower_hex(tag) {
        return None;
    }
    // One buffer for both halves: every join's ticket passes through here on its way to disk.
    let mut bytes = vec![0; (body.len() + tag.len()) / 2];
    let (message, signature) = bytes.split_at_mut(body.len() / 2);
    hex::decode_to_slice(body, message).ok()?;
    hex::decode_to_slice(tag, signature).ok()?;
    Some(bytes)
}

/// The token whose bytes [`token_bytes`] gave; `None` if too short to hold a tag.
pub fn token_from_bytes(bytes: &[u8]) -> Option<String> {
    let (message, tag) = bytes.split_at_checked(bytes.len().checked_sub(TAG_BYTES)?)?;
    Some(token(message, &hex::encode(tag)))
}

/// A token: `message` in hex, a dot, the tag (already hex).
fn token(message: &[u8], tag_hex: &str) -> String {
    let mut token = String::with_capacity(2 * message.len() + 1 + tag_hex.len());
    token.push_str(&hex::encode(message));
    token.push('.');
    token.push_str(tag_hex);
    token
}

impl SealedTicket {
    /// Checks the ticket is this customer's, for this product.
    pub fn check_holder(&self, product_id: &str, customer: &CustomerKey) -> Result<(), TicketError> {
        if self.ticket.product_id != product_id {
            return Err(TicketError::OtherProduct);
        }
        if &self.ticket.customer != customer {
            return Err(TicketError::OtherCustomer);
        }
        Ok(())
    }
}

fn parse(message: &str) -> Option<Ticket> {
    let mut parts = message.splitn(7, '|');
    if parts.next()? != "v1" {
        return None;
    }
    let product_id = parts.next()?.to_owned();
    let arrival_us = parts.next()?.parse().ok()?;
    let tiebreak = parts.next()?.parse().ok()?;
    let drawn = match parts.next()? {
        "0" => false,
        "1" => true,
        _ => return None,
    };
    let issued_at = parts.next()?.parse().ok()?;
    let customer = CustomerKey(parts.next()?.to_owned());
    Some(Ticket { product_id, customer, arrival_us, tiebreak, drawn, issued_at })
}

/// The highest rank a ticket that arrived by `at` can have: every drawn rank lies below it,
/// and every arrival up to the end of that millisecond.
pub fn last_rank_arrived_by(at: Millis) -> u64 {
    let end_us = u64::try_from(at).unwrap_or(0).saturating_add(1).saturating_mul(1000) - 1;
    ARRIVAL_BASE.saturating_add(end_us << 10).saturating_add(1023)
}

/// When the ticket of `rank` arrived (Unix ms); `None` for a rank drawn in the pre-queue.
pub fn arrived_at(rank: u64) -> Option<Millis> {
    Millis::try_from((rank.checked_sub(ARRIVAL_BASE)? >> 10) / 1000).ok()
}

/// The ticket's place in the order of the line (see the module's documentation).
fn rank(ticket: &Ticket, tag_hex: &str) -> u64 {
    if ticket.drawn {
        // The tag is an HMAC under the server's secret: uniform, and unknowable before joining.
        let bytes = hex::decode(tag_hex).unwrap_or_default();
        let mut top = [0u8; 8];
        top.copy_from_slice(&bytes[..8]);
        u64::from_be_bytes(top) >> 2
    } else {
        let arrival = u64::try_from(ticket.arrival_us).unwrap_or(0);
        ARRIVAL_BASE + (arrival << 10) + u64::from(ticket.tiebreak & 1023)
    }
}

/// One advance of the watermark.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub at: Millis,
    /// Tickets ranked at or under this are admitted from `at`.
    pub watermark: u64,
    /// People admitted since opening, this step included.
    pub admitted: u64,
    /// Units left when the step was taken.
    pub stock: u32,
    /// People admitted by earlier steps and still deciding when this one was taken: the
    /// units sold after it may be theirs. (0 in states saved before it was kept.)
    #[serde(default, skip_serializing_if = "is_zero")]
    pub deciding_before: u64,
    /// People this step let in who had bought when the store counted the line's purchase
    /// marks for this advance ([`RoomState::count_buyers`]); `None` uncounted. Not saved: a
    /// count is good only against a stock level read after it, so each advance counts again.
    #[serde(skip)]
    pub bought: Option<u64>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A product's room: the watermark's recent steps. Steps older than an admission window are
/// folded into `base`, so the state stays small however long the sale runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomState {
    /// Everything admitted before the recent steps; those admissions have lapsed.
    pub base: Option<Step>,
    pub steps: Vec<Step>,
    /// When the first person was admitted: a shop's rate (`admissionsPerMinute`) without an
    /// opening time counts from here, which folding steps into `base` must not move.
    /// Absent in states saved before it was kept (then the oldest step known stands in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opened_at: Option<Millis>,
    /// Bumped by every saved change, so concurrent advances cannot both apply.
    pub version: u64,
}

/// Where a ticket stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketState {
    Waiting,
    /// Admitted, and may order until the given moment.
    Admitted {
        until: Millis,
    },
    /// The admission lapsed unused.
    Expired,
    /// Nothing is left to buy.
    SoldOut,
}

impl TicketState {
    pub fn as_str(self) -> &'static str {
        match self {
            TicketState::Waiting => "waiting",
            TicketState::Admitted { .. } => "admitted",
            TicketState::Expired => "expired",
            TicketState::SoldOut => "soldOut",
        }
    }
}

impl RoomState {
    /// The rank tickets are admitted up to (0: nobody yet).
    pub fn watermark(&self) -> u64 {
        self.steps.last().or(self.base.as_ref()).map_or(0, |s| s.watermark)
    }

    /// People admitted since opening.
    pub fn admitted(&self) -> u64 {
        self.steps.last().or(self.base.as_ref()).map_or(0, |s| s.admitted)
    }

    /// When the watermark passed `rank`, if it has.
    fn admitted_at(&self, rank: u64) -> Option<Millis> {
        // Folded steps come first: their tickets were let in no later than the base's step.
        let mut steps = self.base.iter().chain(&self.steps);
        steps.find(|s| s.watermark >= rank).map(|s| s.at)
    }

    /// The state of the ticket of `rank` at `now` with `stock_left` units.
    pub fn ticket_state(&self, rules: &WaitingRoomRules, rank: u64, now: Millis, stock_left: u32) -> TicketState {
        if stock_left == 0 {
            return TicketState::SoldOut;
        }
        match self.admitted_at(rank) {
            None => TicketState::Waiting,
            Some(at) if now < at + rules.admission_ms() => TicketState::Admitted { until: at + rules.admission_ms() },
            Some(_) => TicketState::Expired,
        }
    }

    /// How many more people to admit now (see the module's documentation for the rule).
    pub fn due_admissions(
        &self,
        rules: &WaitingRoomRules,
        opens_at: Option<Millis>,
        now: Millis,
        stock_left: u32,
    ) -> u64 {
        self.paced(rules, opens_at, now, self.unoffered(rules, now, stock_left))
    }

    /// Whether an advance now, letting in at most `most`, should count who of the people let in
    /// within an open admission window has bought ([`RoomState::count_buyers`]): only if the
    /// opening, the shop's rate and the stock would let more in than the units left beyond
    /// those people (each of whom might be deciding). Units sold alone tell neither which
    /// admissions lapsed unused (their units stay held) nor people from units (a buyer of
    /// three units is one person, not three still deciding fewer), so counting can let more
    /// in or fewer; short of that, every way of counting lets in the same.
    pub fn worth_counting(
        &self,
        rules: &WaitingRoomRules,
        opens_at: Option<Millis>,
        now: Millis,
        stock_left: u32,
        most: u64,
    ) -> bool {
        let Some((_, admitted)) = self.open_window(rules, now) else { return false };
        let surely_free = u64::from(stock_left).saturating_sub(admitted);
        surely_free < self.paced(rules, opens_at, now, u64::from(stock_left)).min(most)
    }

    /// `due` capped by the opening and the shop's rate.
    fn paced(&self, rules: &WaitingRoomRules, opens_at: Option<Millis>, now: Millis, mut due: u64) -> u64 {
        if opens_at.is_some_and(|o| now < o) {
            return 0;
        }
        if let Some(per_minute) = rules.admissions_per_minute {
            // A steady trickle from opening (one second's worth at once): small batches keep
            // purchases in arrival order. Without an opening time, the first admission opens.
            let start = opens_at.or(self.first_admission()).unwrap_or(now);
            let per_minute = u64::from(per_minute);
            let allowed = |at: Millis| {
                let elapsed = u64::try_from((at - start).max(0)).unwrap_or(0) + 1000;
                (per_minute.saturating_mul(elapsed) / 60_000).max(1)
            };
            // Each advance lets in what the rate allowed since the last one, looking back one
            // second at most (or one admission's time, for rates under one a second). Time in
            // which the room was not advanced (nobody asked, the server stalled, its wall clock
            // was set forward) is not made up in one batch that buys in the order its people
            // next poll; and advancing more often does not let people in faster. The amounts
            // add up advance after advance, so no fraction of the rate is lost.
            let look_back = 1000.max(i64::try_from(60_000u64.div_ceil(per_minute)).unwrap_or(i64::MAX));
            let burst = match self.steps.last() {
                // The first advance: one second's worth, however long ago the sale opened.
                None => (per_minute * u64::try_from(look_back).unwrap_or(0) / 60_000).max(1),
                Some(last) => allowed(now).saturating_sub(allowed(last.at.max(now - look_back))),
            };
            due = due.min(allowed(now).saturating_sub(self.admitted())).min(burst);
        }
        due
    }

    /// Units not held by anyone admitted and still deciding: what stock alone lets in now.
    pub fn unoffered(&self, rules: &WaitingRoomRules, now: Millis, stock_left: u32) -> u64 {
        u64::from(stock_left).saturating_sub(self.still_deciding(rules, now, stock_left))
    }

    /// People whose admission still runs and who have not bought (a buyer may still order
    /// again within their limits, as before they were counted):
    /// - counted ([`RoomState::count_buyers`]): the people let in since the oldest step whose
    ///   window is open, less those of them the store counted as buyers. A buyer is one person
    ///   however many units they bought; one whose mark is not written yet still counts as
    ///   deciding, so the room errs towards letting in fewer;
    /// - uncounted, by stock alone: those people less the units sold since that step. Sales
    ///   are put down to the people admitted before it first (as many as were still deciding
    ///   then), so a sale by someone whose window has closed since never frees a unit twice. A
    ///   lapsed admission counted that way holds its unit until every window it was counted in
    ///   has closed; a buyer of several units is taken for as many people.
    fn still_deciding(&self, rules: &WaitingRoomRules, now: Millis, stock_left: u32) -> u64 {
        let Some((i, admitted_in_window)) = self.open_window(rules, now) else { return 0 };
        if let Some(buyers) = self.steps[i..].iter().map(|s| s.bought).sum::<Option<u64>>() {
            return admitted_in_window.saturating_sub(buyers);
        }
        let window = &self.steps[i];
        let sold_since = u64::from(window.stock.saturating_sub(stock_left));
        let bought_in_window = sold_since.saturating_sub(window.deciding_before);
        admitted_in_window.saturating_sub(bought_in_window)
    }

    /// The oldest step whose admission window is open at `now`, and the people let in since
    /// it (it included); `None` when every window has closed.
    fn open_window(&self, rules: &WaitingRoomRules, now: Millis) -> Option<(usize, u64)> {
        let i = self.steps.iter().position(|s| now < s.at + rules.admission_ms())?;
        Some((i, self.admitted() - self.admitted_before(i)))
    }

    /// The ranks the steps not folded into the base let in: the range whose purchase marks
    /// [`RoomState::count_buyers`] wants, or `None` while no step is open to count for.
    pub fn counted_ranks(&self) -> Option<std::ops::RangeInclusive<u64>> {
        self.steps.last()?;
        Some(self.first_unfolded_rank()..=self.watermark())
    }

    /// The lowest rank a step not folded into the base may have let in.
    fn first_unfolded_rank(&self) -> u64 {
        self.base.as_ref().map_or(0, |b| b.watermark.saturating_add(1))
    }

    /// Drops the counts of [`RoomState::count_buyers`]: they hold only against the stock
    /// level read with them.
    pub fn forget_buyers(&mut self) {
        self.steps.iter_mut().for_each(|step| step.bought = None);
    }

    /// Puts down to each step the buyers among the people it let in, from the ranks of the
    /// tickets whose holders have bought (in [`RoomState::counted_ranks`], any order, a rank
    /// once or more).
    pub fn count_buyers(&mut self, bought: &[u64]) {
        // A ticket may be marked by several orders of its holder: one buyer all the same.
        let mut ranks = bought.to_vec();
        ranks.sort_unstable();
        ranks.dedup();
        let mut low = self.first_unfolded_rank();
        for step in &mut self.steps {
            let from = ranks.partition_point(|r| *r < low);
            let to = ranks.partition_point(|r| *r <= step.watermark);
            step.bought = Some(u64::try_from(to.saturating_sub(from)).unwrap_or(u64::MAX));
            low = step.watermark.saturating_add(1);
        }
    }

    /// When the first admission was made, as far as this state knows.
    fn first_admission(&self) -> Option<Millis> {
        self.opened_at.or_else(|| self.base.as_ref().or(self.steps.first()).map(|s| s.at))
    }

    /// People admitted before the step at `i`.
    fn admitted_before(&self, i: usize) -> u64 {
        match i.checked_sub(1) {
            Some(p) => self.steps[p].admitted,
            None => self.base.as_ref().map_or(0, |b| b.admitted),
        }
    }

    /// The state after admitting `count` more people, the last of them ranked `watermark`.
    pub fn advanced(
        &self,
        rules: &WaitingRoomRules,
        now: Millis,
        watermark: u64,
        count: u64,
        stock_left: u32,
    ) -> RoomState {
        let mut next = self.clone();
        next.opened_at = self.first_admission().or(Some(now));
        let deciding_before = self.still_deciding(rules, now, stock_left);
        next.steps.push(Step {
            at: now,
            watermark,
            admitted: self.admitted() + count,
            stock: stock_left,
            deciding_before,
            bought: None,
        });
        // Steps whose admissions have lapsed only matter as the point the line reached.
        while next.steps.len() > 1 && next.steps[0].at + rules.admission_ms() <= now {
            next.base = Some(next.steps.remove(0));
        }
        next.version += 1;
        next
    }

    /// People admitted per second lately, or `None` before anyone was.
    fn measured_throughput(&self, rules: &WaitingRoomRules, now: Millis) -> Option<f64> {
        let first = self.steps.first()?;
        let admitted = self.admitted() - self.admitted_before(0);
        let span = (now - first.at).max(rules.admission_ms());
        (admitted > 0).then(|| admitted as f64 * 1000.0 / span as f64)
    }

    /// Seconds until `ahead` people before this one have been let in. Those the next advance
    /// lets in (see [`RoomState::due_admissions`]) wait for it alone, a second at most; the
    /// rest go at the shop's rate, or the pace measured lately, or (before any) one stock's
    /// worth per admission window.
    pub fn estimated_wait_seconds(
        &self,
        rules: &WaitingRoomRules,
        opens_at: Option<Millis>,
        now: Millis,
        ahead: u64,
        stock_left: u32,
    ) -> u64 {
        let until_open = opens_at.map_or(0, |o| (o - now).max(0) / 1000);
        let per_second = rules
            .admissions_per_minute
            .map(|r| f64::from(r) / 60.0)
            .or_else(|| self.measured_throughput(rules, now))
            .unwrap_or_else(|| f64::from(stock_left.max(1)) * 1000.0 / rules.admission_ms() as f64);
        // Left out, the first advance of a stock-led room (one person in line then) would
        // measure a pace of one per admission window and tell the next ones to wait minutes.
        let paced = ahead.saturating_sub(self.due_admissions(rules, opens_at, now, stock_left));
        let wait = (paced as f64 / per_second).ceil();
        u64::try_from(until_open).unwrap_or(0) + if wait.is_finite() { wait as u64 } else { 0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Millis = 1_900_000_000_000;

    fn signer(secret: &[u8]) -> Signer {
        Signer::new(vec![secret.to_vec()]).unwrap()
    }

    fn ticket(customer: &str, at_ms: Millis, opens_at: Option<Millis>) -> Ticket {
        Ticket::new("hot", CustomerKey(customer.into()), at_ms * 1000, 7, opens_at)
    }

    #[test]
    fn a_sealed_ticket_opens_to_what_was_signed() {
        let s = signer(b"k1");
        let sealed = ticket("user:a|b", T0, None).seal(&s);
        let opened = Ticket::open(&sealed.token, &s, T0 + 1).unwrap();
        assert_eq!(opened, sealed);
        assert!(opened.check_holder("hot", &CustomerKey("user:a|b".into())).is_ok());
        assert_eq!(opened.check_holder("cold", &CustomerKey("user:a|b".into())), Err(TicketError::OtherProduct));
        assert_eq!(opened.check_holder("hot", &CustomerKey("user:a".into())), Err(TicketError::OtherCustomer));
    }

    proptest::proptest! {
        /// Tickets issued before the message was built by hand must still verify.
        #[test]
        fn the_message_is_the_one_format_wrote(
            arrival_us: i64, tiebreak: u16, drawn: bool, issued_at: i64,
            product_id in "[a-z0-9-]{1,16}", customer in "\\PC{0,24}",
        ) {
            let ticket = Ticket {
                product_id: product_id.clone(),
                customer: CustomerKey(customer.clone()),
                arrival_us,
                tiebreak,
                drawn,
                issued_at,
            };
            let before = format!("v1|{product_id}|{arrival_us}|{tiebreak}|{}|{issued_at}|{customer}", u8::from(drawn));
            proptest::prop_assert_eq!(ticket.message(), before);
        }
    }

    #[test]
    fn a_token_s_bytes_give_back_exactly_that_token() {
        let s = signer(b"k1");
        let sealed = ticket("user:a|b", T0, None).seal(&s);
        // The message, as `format!` wrote it before it was built by hand.
        let (body, tag) = sealed.token.split_once('.').unwrap();
        assert_eq!(
            String::from_utf8(hex::decode(body).unwrap()).unwrap(),
            format!("v1|hot|{}|7|0|{T0}|user:a|b", T0 * 1000)
        );
        let bytes = token_bytes(&sealed.token).unwrap();
        assert_eq!(bytes.len(), body.len() / 2 + tag.len() / 2, "half the text");
        assert_eq!(token_from_bytes(&bytes).as_deref(), Some(sealed.token.as_str()));
        // Tokens not written as this shop writes them are kept as they are, by the caller.
        let upper = sealed.token.to_uppercase();
        assert_eq!(Ticket::open(&upper, &s, T0).map(|t| t.rank), Ok(sealed.rank), "still a good ticket");
        for other in [
            upper.as_str(),
            "abc",
            "ab.cd",
            "",
            ".",
            &format!("{body}.{tag}00"),
            &format!("{body}x.{tag}"),
            &format!("{body}0.{tag}"),
        ] {
            assert_eq!(token_bytes(other), None, "{other}");
        }
        assert_eq!(token_from_bytes(&[1; TAG_BYTES - 1]), None);
    }

    #[test]
    fn tampered_or_foreign_tickets_are_refused() {
        let s = signer(b"k1");
        let token = ticket("user:a", T0, None).seal(&s).token;
        let (body, tag) = token.split_once('.').unwrap();
        let forged = hex::encode(String::from_utf8(hex::decode(body).unwrap()).unwrap().replace("user:a", "user:b"));
        assert_eq!(Ticket::open(&format!("{forged}.{tag}"), &s, T0), Err(TicketError::BadSignature));
        let mut flipped = tag.to_owned();
        flipped.replace_range(0..1, if tag.starts_with('0') { "1" } else { "0" });
        assert_eq!(Ticket::open(&format!("{body}.{flipped}"), &s, T0), Err(TicketError::BadSignature));
        assert_eq!(Ticket::open(&token, &signer(b"other"), T0), Err(TicketError::BadSignature));
        for junk in ["", "abc", "zz.zz", "."] {
            assert!(Ticket::open(junk, &s, T0).is_err(), "{junk:?}");
        }
        // A correctly signed message of another shape is still not a ticket.
        let odd = "v2|x";
        let token = format!("{}.{}", hex::encode(odd), s.sign(QUEUE_TICKET, odd));
        assert_eq!(Ticket::open(&token, &s, T0), Err(TicketError::Malformed));
    }

    #[test]
    fn tickets_survive_rotation_until_the_old_secret_is_dropped() {
        let old = signer(b"old");
        let sealed = ticket("user:a", T0, None).seal(&old);
        let rotated = Signer::new(vec![b"new".to_vec(), b"old".to_vec()]).unwrap();
        assert_eq!(Ticket::open(&sealed.token, &rotated, T0).unwrap().rank, sealed.rank, "same place after rotation");
        assert_eq!(Ticket::open(&sealed.token, &signer(b"new"), T0), Err(TicketError::BadSignature));
    }

    #[test]
    fn tickets_expire_after_their_lifetime() {
        let s = signer(b"k");
        let token = ticket("user:a", T0, None).seal(&s).token;
        assert!(Ticket::open(&token, &s, T0 + TICKET_LIFETIME - 1).is_ok());
        assert_eq!(Ticket::open(&token, &s, T0 + TICKET_LIFETIME), Err(TicketError::Expired));
        assert_eq!(Ticket::open(&token, &s, T0 - 2 * CLOCK_SKEW), Err(TicketError::Expired), "issued in the future");
        // Taken in a week-long pre-queue window: still good a day after opening.
        let week = Millis::from(MAX_PRE_QUEUE_MINUTES) * 60_000;
        let drawn = ticket("user:a", T0, Some(T0 + week)).seal(&s).token;
        assert!(Ticket::open(&drawn, &s, T0 + week + TICKET_LIFETIME - 1).is_ok());
        assert_eq!(Ticket::open(&drawn, &s, T0 + week + TICKET_LIFETIME), Err(TicketError::Expired));
    }

    #[test]
    fn arrival_orders_the_line_after_opening_and_draws_order_it_before() {
        let s = signer(b"k");
        let opens = Some(T0);
        let early = ticket("user:a", T0 - 60_000, opens).seal(&s);
        let earlier = ticket("user:b", T0 - 3_600_000, opens).seal(&s);
        let first = ticket("user:c", T0, opens).seal(&s);
        let second = ticket("user:d", T0 + 1, opens).seal(&s);
        assert!(early.ticket.drawn && earlier.ticket.drawn && !first.ticket.drawn);
        assert!(early.rank < first.rank && earlier.rank < first.rank, "the pre-queue goes first");
        assert!(first.rank < second.rank, "then arrival order");
        // Draws are spread, not by arrival: among many pre-queue joins, order differs from arrival.
        let ranks: Vec<u64> =
            (0..50).map(|i| ticket(&format!("user:{i}"), T0 - 50_000 + i, opens).seal(&s).rank).collect();
        assert!(ranks.windows(2).any(|w| w[0] > w[1]), "drawn places are not arrival order");
        let again: Vec<u64> =
            (0..50).map(|i| ticket(&format!("user:{i}"), T0 - 50_000 + i, opens).seal(&s).rank).collect();
        assert_eq!(ranks, again, "the draw is deterministic");
    }

    #[test]
    fn the_last_rank_arrived_by_a_moment_bounds_exactly_the_tickets_that_arrived_by_it() {
        let s = signer(b"k");
        let opens = Some(T0);
        let bound = last_rank_arrived_by(T0 + 5);
        let last_of_ms = Ticket::new("hot", CustomerKey("user:a".into()), (T0 + 5) * 1000 + 999, 1023, opens).seal(&s);
        let next_ms = Ticket::new("hot", CustomerKey("user:b".into()), (T0 + 6) * 1000, 0, opens).seal(&s);
        assert!(last_of_ms.rank <= bound, "the whole millisecond has arrived");
        assert!(next_ms.rank > bound, "the next one has not");
        assert!(ticket("user:c", T0 - 60_000, opens).seal(&s).rank <= last_rank_arrived_by(T0), "draws lie below");
        assert_eq!((arrived_at(last_of_ms.rank), arrived_at(next_ms.rank)), (Some(T0 + 5), Some(T0 + 6)));
        assert_eq!(arrived_at(ticket("user:c", T0 - 60_000, opens).seal(&s).rank), None, "a drawn place");
    }

    fn rules() -> WaitingRoomRules {
        WaitingRoomRules::default()
    }

    #[test]
    fn nobody_is_admitted_before_opening_then_as_many_as_units_left() {
        let room = RoomState::default();
        assert_eq!(room.due_admissions(&rules(), Some(T0), T0 - 1, 10), 0);
        assert_eq!(room.due_admissions(&rules(), Some(T0), T0, 10), 10);
        let room = room.advanced(&rules(), T0, 500, 10, 10);
        assert_eq!((room.watermark(), room.admitted(), room.version), (500, 10, 1));
        assert_eq!(room.due_admissions(&rules(), Some(T0), T0 + 1, 10), 0, "ten deciding, ten units");
        assert_eq!(
            room.due_admissions(&rules(), Some(T0), T0 + 1, 7),
            0,
            "three bought one each: seven deciding, seven units"
        );
        assert_eq!(room.due_admissions(&rules(), Some(T0), T0 + 1, 4), 0, "three more bought");
        // A cancellation puts two units back while ten are deciding: two more come in.
        assert_eq!(room.due_admissions(&rules(), Some(T0), T0 + 1, 12), 2);
        let room = room.advanced(&rules(), T0 + 1, 600, 2, 12);
        assert_eq!(room.due_admissions(&rules(), Some(T0), T0 + 2, 12), 0);
        // Nobody else buys: once the first ten lapse, their units pass on; the two still decide.
        let lapse = T0 + rules().admission_ms();
        assert_eq!(room.due_admissions(&rules(), Some(T0), lapse, 12), 10);
    }

    #[test]
    fn tickets_are_admitted_when_the_watermark_passes_and_expire_after_the_window() {
        let r = rules();
        let room = RoomState::default().advanced(&r, T0, 500, 10, 10);
        assert_eq!(room.ticket_state(&r, 500, T0, 10), TicketState::Admitted { until: T0 + r.admission_ms() });
        assert_eq!(room.ticket_state(&r, 501, T0, 10), TicketState::Waiting);
        assert_eq!(room.ticket_state(&r, 100, T0 + r.admission_ms(), 10), TicketState::Expired);
        assert_eq!(room.ticket_state(&r, 501, T0, 0), TicketState::SoldOut, "sold out tells everyone at once");
        // Old steps fold into the base; their tickets stay admitted (and lapsed).
        let later = room.advanced(&r, T0 + r.admission_ms(), 900, 5, 5);
        assert_eq!(later.steps.len(), 1);
        assert_eq!(later.base.as_ref().map(|b| b.watermark), Some(500));
        assert_eq!(later.ticket_state(&r, 400, T0 + r.admission_ms(), 5), TicketState::Expired);
        assert!(matches!(later.ticket_state(&r, 800, T0 + r.admission_ms(), 5), TicketState::Admitted { .. }));
        assert_eq!(later.admitted(), 15);
    }

    #[test]
    fn a_shop_rate_caps_admissions_per_minute_since_opening() {
        let r = WaitingRoomRules { admissions_per_minute: Some(120), ..rules() };
        let room = RoomState::default();
        assert_eq!(room.due_admissions(&r, Some(T0), T0, 100), 2, "one second's worth at opening");
        let room = room.advanced(&r, T0, 10, 2, 100);
        assert_eq!(room.due_admissions(&r, Some(T0), T0 + 499, 98), 0);
        assert_eq!(room.due_admissions(&r, Some(T0), T0 + 500, 98), 1, "then one every half second");
        // A minute without an advance (no requests, a stalled server, a clock set forward) is
        // not made up in one batch: one second's worth at once, as at opening.
        assert_eq!(room.due_admissions(&r, Some(T0), T0 + 59_000, 200), 2);
    }

    #[test]
    fn time_without_an_advance_is_not_made_up_in_a_burst() {
        // 600 a minute with no opening time; ten let in a second for ten seconds, then the room
        // is not advanced for twenty seconds (nobody asked, or the wall clock jumped forward):
        // the next advance lets in one second's worth, not the 200 the time since opening
        // would allow, and the line goes on at the rate.
        let r = WaitingRoomRules { admissions_per_minute: Some(600), admission_minutes: 1, ..rules() };
        let mut room = RoomState::default();
        for second in 0..10 {
            assert_eq!(step(&r, &mut room, T0 + second * 1000), 10);
        }
        let resumed = T0 + 30_000;
        assert_eq!(step(&r, &mut room, resumed), 10, "one second's worth after the pause");
        assert_eq!(step(&r, &mut room, resumed + 300), 3, "then at the rate: 0.3 s is three");
        assert_eq!(step(&r, &mut room, resumed + 1300), 10);
        // Advances every 10 ms (orders of people still waiting force them) spend what was
        // built up at the rate, not one person per advance.
        let admitted: u64 = (1..=100).map(|i| step(&r, &mut room, resumed + 1300 + i * 10)).sum();
        assert_eq!(admitted, 10, "one second of advances every 10 ms lets in one second's worth");
        // A rate that is not a whole number a second still comes out right over a minute.
        let r = WaitingRoomRules { admissions_per_minute: Some(90), admission_minutes: 1, ..rules() };
        let mut room = RoomState::default();
        let admitted: u64 = (0..60).map(|second| step(&r, &mut room, T0 + second * 1000)).sum();
        assert!((89..=91).contains(&admitted), "{admitted} admitted in a minute at 90 a minute");
        // Under one a second: each advance looks back one admission's time, so none is missed.
        let r = WaitingRoomRules { admissions_per_minute: Some(20), admission_minutes: 1, ..rules() };
        let mut room = RoomState::default();
        let admitted: u64 = (0..240).map(|quarter| step(&r, &mut room, T0 + quarter * 250)).sum();
        assert!((19..=21).contains(&admitted), "{admitted} admitted in a minute at 20 a minute");
        // A sale that opened a minute before anyone came: the first advance lets in one
        // second's worth, not the minute's.
        let r = WaitingRoomRules { admissions_per_minute: Some(600), admission_minutes: 1, ..rules() };
        assert_eq!(RoomState::default().due_admissions(&r, Some(T0 - 60_000), T0, 10_000), 10);
    }

    /// One advance without an opening time, a long line and stock enough: how many came in.
    fn step(r: &WaitingRoomRules, room: &mut RoomState, now: Millis) -> u64 {
        let due = room.due_admissions(r, None, now, 10_000);
        if due > 0 {
            *room = room.advanced(r, now, room.watermark() + due, due, 10_000);
        }
        due
    }

    #[test]
    fn a_shop_rate_keeps_admitting_after_the_first_steps_fold_into_the_base() {
        // No opening time: the rate counts from the first admission. A step a second for
        // three minutes, with stock and people enough: admissions go on at the rate after
        // the first window's steps fold into the base, neither stalling nor bursting.
        let r = WaitingRoomRules { admissions_per_minute: Some(60), admission_minutes: 1, ..rules() };
        let mut room = RoomState::default();
        let mut admitted_per_minute = [0u64; 3];
        for second in 0..180 {
            admitted_per_minute[(second / 60) as usize] += step(&r, &mut room, T0 + second * 1000);
        }
        for (minute, n) in admitted_per_minute.iter().enumerate() {
            assert!((59..=61).contains(n), "minute {minute}: {n} admitted, 60 wanted: {admitted_per_minute:?}");
        }
        assert_eq!(room.opened_at, Some(T0));
        let saved: RoomState = serde_json::from_str(&serde_json::to_string(&room).unwrap()).unwrap();
        assert_eq!(saved, room, "the opening is saved with the state");
        let older: RoomState = serde_json::from_str(r#"{"base":null,"steps":[],"version":3}"#).unwrap();
        assert_eq!((older.opened_at, older.version), (None, 3), "states saved before it read as before");
    }

    #[test]
    fn the_wait_is_estimated_from_the_rate_or_the_measured_pace() {
        let r = rules();
        let room = RoomState::default();
        // Nothing measured: the next advance lets the first ten in (a unit each), and the ten
        // after them go at ten units per five minutes: five minutes.
        assert_eq!(room.estimated_wait_seconds(&r, None, T0, 20, 10), 300);
        assert_eq!(room.estimated_wait_seconds(&r, None, T0, 9, 10), 0, "let in by the next advance");
        assert_eq!(room.estimated_wait_seconds(&r, Some(T0 + 30_000), T0, 0, 10), 30, "until opening");
        let fixed = WaitingRoomRules { admissions_per_minute: Some(60), ..r.clone() };
        // One a second: the next advance lets one in, the 29 after at one a second.
        assert_eq!(room.estimated_wait_seconds(&fixed, None, T0, 30, 10), 29);
        let measured = room.advanced(&r, T0, 9, 300, 300);
        assert_eq!(measured.estimated_wait_seconds(&r, None, T0 + 1000, 10, 300), 10, "300 per five minutes = 1/s");
        // A stock-led room whose first advance found one person in line: the nine units left
        // go to the next nine at the next advance, not at a pace of one per five minutes.
        let started = room.advanced(&r, T0, 1, 1, 10);
        assert_eq!(started.estimated_wait_seconds(&r, None, T0 + 500, 8, 10), 0);
        assert_eq!(started.estimated_wait_seconds(&r, None, T0 + 500, 10, 10), 300, "one beyond the stock");
        assert_eq!(started.unoffered(&r, T0 + 500, 10), 9);
    }

    #[test]
    fn a_sale_by_someone_whose_window_closed_frees_no_unit_for_a_later_window() {
        // Ten admitted for ten units; a minute later a cancel brings two back and two more are
        // let in. The first ten buy ten units, and their window closes: the two left are the
        // two later people's until their window closes too.
        let r = rules();
        let first = RoomState::default().advanced(&r, T0, 10, 10, 10);
        let second = first.advanced(&r, T0 + 60_000, 12, 2, 12);
        assert_eq!(second.steps[1].deciding_before, 10);
        let closed = T0 + r.admission_ms();
        assert_eq!(second.unoffered(&r, closed, 2), 0, "both units held by the two still deciding");
        assert_eq!(second.unoffered(&r, closed, 1), 0, "one of them bought: one still deciding for the last");
        assert_eq!(second.unoffered(&r, T0 + 60_000 + r.admission_ms(), 2), 2, "their window closed too");
        // The first ten bought only five before their window closed, the later two none.
        assert_eq!(second.unoffered(&r, closed, 7), 5, "two still deciding, five units free");
        let saved: RoomState = serde_json::from_str(&serde_json::to_string(&second).unwrap()).unwrap();
        assert_eq!(saved, second);
    }

    #[test]
    fn the_unit_of_a_lapsed_admission_passes_on_when_the_window_it_was_let_in_by_closes() {
        // Ten let in of twenty units; eight buy, two (bots) never do. A second later ten more
        // come in and all buy. When the first window closes the bots' two units are free:
        // by stock alone the sales since the second step are put down to the bots first, so
        // the units wait for the second window too; counted buyers free them at once.
        let r = rules();
        let first = RoomState::default().advanced(&r, T0, 10, 10, 20);
        let mut second = first.advanced(&r, T0 + 1000, 20, 10, 12);
        assert_eq!(second.steps[1].deciding_before, 2);
        let closed = T0 + r.admission_ms() + 500;
        assert_eq!(second.unoffered(&r, closed, 2), 0, "by stock alone, held a window longer");
        assert!(second.worth_counting(&r, Some(T0), closed, 2, 1000), "so counting buyers may let more in");
        assert!(!second.worth_counting(&r, Some(closed + 1), closed, 2, 1000), "not before opening");
        assert!(!second.worth_counting(&r, Some(T0), closed, 2, 0), "nor when nobody more may come in");
        assert!(!second.worth_counting(&r, Some(T0), closed, 0, 1000), "nor with nothing left");
        let paced = WaitingRoomRules { admissions_per_minute: Some(60), ..r.clone() };
        let trickle = RoomState::default().advanced(&paced, T0, 1, 1, 20);
        assert!(!trickle.worth_counting(&paced, Some(T0), T0 + 500, 20, 1000), "the rate holds them back");
        assert!(!RoomState::default().worth_counting(&r, Some(T0), T0, 2, 1000), "nobody deciding yet");
        let all_lapsed = T0 + 1000 + r.admission_ms();
        assert!(!second.worth_counting(&r, Some(T0), all_lapsed, 2, 1000), "every window closed");
        assert_eq!(second.counted_ranks(), Some(0..=20));
        let buyers: Vec<u64> = (11..=20).chain(1..=8).chain([3, 12]).collect();
        second.count_buyers(&buyers);
        assert_eq!(second.steps.iter().map(|s| s.bought).collect::<Vec<_>>(), [Some(8), Some(10)]);
        assert_eq!(second.unoffered(&r, closed, 2), 2, "the bots' units pass on when their window closes");
        assert_eq!(second.unoffered(&r, T0 + 1500, 2), 0, "while it runs, the bots hold them");
        // Without counts the bound is the stock's.
        second.forget_buyers();
        assert_eq!(second.unoffered(&r, closed, 2), 0);
        // Once the first step folds into the base, counting starts above it.
        let mut third = second.advanced(&r, T0 + r.admission_ms(), 22, 2, 2);
        assert_eq!(third.counted_ranks(), Some(11..=22));
        third.count_buyers(&[12, 21, 30]);
        assert_eq!(third.steps.iter().map(|s| s.bought).collect::<Vec<_>>(), [Some(1), Some(1)]);
        let saved: RoomState = serde_json::from_str(&serde_json::to_string(&third).unwrap()).unwrap();
        assert_eq!(saved.steps.iter().map(|s| s.bought).collect::<Vec<_>>(), [None, None], "counts are not saved");
        assert_eq!(RoomState::default().counted_ranks(), None, "nothing to count before anyone is let in");
    }

    #[test]
    fn a_buyer_of_several_units_is_one_person_once_buyers_are_counted() {
        // Five units; a, b and c (ranks 1 to 3) let in; a buys two. b and c may each still
        // buy one of the three left, so one unit is free. By units sold alone a's two units
        // pass for two people decided, and two would look free.
        let r = rules();
        let mut room = RoomState::default().advanced(&r, T0, 3, 3, 5);
        let soon = T0 + 1000;
        assert_eq!(room.unoffered(&r, soon, 3), 2, "by units sold alone");
        assert!(room.worth_counting(&r, Some(T0), soon, 3, 1000), "nobody is held back, yet counting matters");
        assert!(!room.worth_counting(&r, Some(T0), soon, 3, 0), "not when nobody more may come in");
        assert!(!room.worth_counting(&r, Some(T0), soon, 5, 2), "nor when units are free beyond all three");
        room.count_buyers(&[1]);
        assert_eq!(room.unoffered(&r, soon, 3), 1, "a is one buyer; b and c hold two units");
        // A buyer whose mark is not written yet still counts as deciding: fewer are let in.
        room.count_buyers(&[]);
        assert_eq!(room.unoffered(&r, soon, 3), 0);
    }

    #[test]
    fn settings_are_checked_and_old_definitions_read_without_a_room() {
        assert!(rules().validate().is_ok());
        assert!(WaitingRoomRules { admission_minutes: 0, ..rules() }.validate().is_err());
        assert!(WaitingRoomRules { admissions_per_minute: Some(0), ..rules() }.validate().is_err());
        let parsed: WaitingRoomRules = serde_json::from_str("{}").unwrap();
        assert_eq!(parsed, rules());
        assert_eq!(rules().line_opens(Some(T0)), Some(T0));
        assert_eq!(WaitingRoomRules { pre_queue_minutes: 2, ..rules() }.line_opens(Some(T0)), Some(T0 - 120_000));
    }
}
