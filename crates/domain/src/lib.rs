//! Stampede's shop rules: catalog, option pricing, order validation, stock and
//! limit checks, and the order status workflow. Pure Rust: no I/O, no async.

pub mod catalog;
pub mod checkout;
pub mod customer;
pub mod error;
pub mod fulfilment;
pub mod money;
pub mod opening_hours;
pub mod order;
pub mod plain_text;
pub mod pricing;
pub mod rules;
pub mod shop;
pub mod signing;
pub mod status;
pub mod waiting_room;

pub use catalog::{MAX_STOCK_SHARDS, OptionChoice, OptionGroup, Product, SaleRules, is_slug};
pub use checkout::{PricedOrder, ProductState, evaluate};
pub use customer::{Customer, CustomerKey, LimitKeyRules};
pub use error::{OrderRejection, ValidationError};
pub use fulfilment::{DeliveryAddress, Fulfilment, Phone};
pub use money::{Currency, ForPeople, Money};
pub use opening_hours::{OpeningHours, SlotError};
pub use order::{
    LineRequest, MAX_LINE_QUANTITY, MAX_LINES, OptionSelection, OrderLine, OrderRequest, SelectedOption, short_number,
};
pub use pricing::price_line;
pub use rules::{LineCheck, check_line};
pub use shop::ShopProfile;
pub use signing::Signer;
pub use status::OrderStatus;
pub use waiting_room::{
    RoomState, SealedTicket, Ticket, TicketError, TicketState, WaitingRoomRules, arrived_at, last_rank_arrived_by,
    token_bytes, token_from_bytes,
};

/// Milliseconds since the Unix epoch, UTC. The domain never reads a clock: callers pass `now`.
pub type Millis = i64;
