//! The JSON shapes of the API, separate from domain types so the wire format is a decision
//! of its own and the domain stays free of schema annotations.

use crate::timefmt::{parse_rfc3339, rfc3339};
use serde::{Deserialize, Serialize};
use stampede_domain::{
    DeliveryAddress, Fulfilment, Millis, Money, OptionGroup, OrderLine, OrderStatus, Phone, SaleRules, SelectedOption,
    ValidationError, WaitingRoomRules,
};
use stampede_store::{Order, OrderPage, ProductView};
use utoipa::ToSchema;

/// An amount of money in minor units.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MoneyDto {
    /// Minor units (cents): 1299 is 12.99.
    #[schema(example = 1299)]
    pub amount: i64,
    /// ISO 4217 code.
    #[schema(example = "USD")]
    pub currency: String,
}

impl From<Money> for MoneyDto {
    fn from(m: Money) -> Self {
        MoneyDto { amount: m.amount, currency: m.currency.to_string() }
    }
}

/// A product with live stock.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProductDto {
    #[schema(example = "margherita")]
    pub id: String,
    pub name: String,
    pub description: String,
    /// Menu section: `pizza`, `drinks`, `flash-sale`, ...
    pub category: String,
    /// Price with every option at its default.
    pub price: MoneyDto,
    /// Units remaining right now.
    pub stock: u32,
    pub sold_out: bool,
    pub image: Option<String>,
    pub option_groups: Vec<OptionGroupDto>,
    pub sale: SaleDto,
}

/// A set of choices that change the price, e.g. size or toppings.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OptionGroupDto {
    #[schema(example = "size")]
    pub id: String,
    pub name: String,
    pub min_choices: u32,
    pub max_choices: u32,
    pub default_choice: Option<String>,
    pub choices: Vec<OptionChoiceDto>,
}

/// One choice and what it adds to the unit price.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OptionChoiceDto {
    #[schema(example = "large")]
    pub id: String,
    pub name: String,
    /// Minor units added to the unit price (negative takes off).
    #[schema(example = 300)]
    pub price_delta: i64,
}

/// Flash-sale rules.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SaleDto {
    /// RFC 3339; orders before this are refused.
    pub starts_at: Option<String>,
    /// RFC 3339; orders from this instant on are refused.
    pub ends_at: Option<String>,
    /// Most units one customer may buy over all their orders.
    pub per_customer_max: Option<u32>,
    /// Most units in one order.
    pub per_order_max: Option<u32>,
    /// A waiting room in front of the sale (left out: none). With it, ordering the product
    /// needs an admitted ticket from `POST /api/products/{id}/queue`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_room: Option<WaitingRoomDto>,
}

/// A product's waiting room.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WaitingRoomDto {
    /// Minutes an admitted customer may order for, 1 to 60 (default 5).
    #[schema(minimum = 1, maximum = 60, example = 5)]
    pub admission_minutes: Option<u32>,
    /// Minutes before `startsAt` in which people may join; their places are drawn at random
    /// when the sale opens (default 0).
    #[schema(minimum = 0, maximum = 10080, example = 60)]
    pub pre_queue_minutes: Option<u32>,
    /// Most people let in per minute; left out, the pace follows stock left and purchases.
    #[schema(minimum = 1)]
    pub admissions_per_minute: Option<u32>,
}

impl From<&WaitingRoomRules> for WaitingRoomDto {
    fn from(r: &WaitingRoomRules) -> Self {
        WaitingRoomDto {
            admission_minutes: Some(r.admission_minutes),
            pre_queue_minutes: Some(r.pre_queue_minutes),
            admissions_per_minute: r.admissions_per_minute,
        }
    }
}

impl From<WaitingRoomDto> for WaitingRoomRules {
    fn from(d: WaitingRoomDto) -> Self {
        let default = WaitingRoomRules::default();
        WaitingRoomRules {
            admission_minutes: d.admission_minutes.unwrap_or(default.admission_minutes),
            pre_queue_minutes: d.pre_queue_minutes.unwrap_or(default.pre_queue_minutes),
            admissions_per_minute: d.admissions_per_minute,
        }
    }
}

impl From<&OptionGroup> for OptionGroupDto {
    fn from(g: &OptionGroup) -> Self {
        OptionGroupDto {
            id: g.id.clone(),
            name: g.name.clone(),
            min_choices: g.min_choices,
            max_choices: g.max_choices,
            default_choice: g.default_choice.clone(),
            choices: g
                .choices
                .iter()
                .map(|c| OptionChoiceDto { id: c.id.clone(), name: c.name.clone(), price_delta: c.price_delta })
                .collect(),
        }
    }
}

impl From<&SaleRules> for SaleDto {
    fn from(s: &SaleRules) -> Self {
        SaleDto {
            starts_at: s.starts_at.map(rfc3339),
            ends_at: s.ends_at.map(rfc3339),
            per_customer_max: s.per_customer_max,
            per_order_max: s.per_order_max,
            waiting_room: s.waiting_room.as_ref().map(Into::into),
        }
    }
}

impl From<ProductView> for ProductDto {
    fn from(v: ProductView) -> Self {
        let p = v.product;
        ProductDto {
            price: p.base_price.into(),
            stock: v.stock,
            sold_out: v.stock == 0,
            option_groups: p.option_groups.iter().map(Into::into).collect(),
            sale: (&p.sale).into(),
            id: p.id,
            name: p.name,
            description: p.description,
            category: p.category,
            image: p.image,
        }
    }
}

/// Who placed an order.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomerDto {
    /// The key orders are listed under: the email, or `user:<id>` for the shorthand.
    pub id: String,
    pub email: Option<String>,
    pub name: Option<String>,
}

/// An option as chosen and priced on an order.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SelectedOptionDto {
    pub group: String,
    pub group_name: String,
    pub choice: String,
    pub choice_name: String,
    pub price_delta: i64,
}

/// A priced order line.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderLineDto {
    pub product_id: String,
    pub product_name: String,
    pub quantity: u32,
    pub options: Vec<SelectedOptionDto>,
    pub unit_price: MoneyDto,
    pub line_total: MoneyDto,
}

/// The schema of an order's status: a schema only, the domain's `OrderStatus` is the type. Its
/// names are `OrderStatus::ALL`'s, so a status added to the domain needs no second list here.
#[derive(Debug)]
pub struct OrderStatusName;

impl utoipa::PartialSchema for OrderStatusName {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some(
                "An order's status as the API spells it (a schema only: the domain's `OrderStatus` is the type).",
            ))
            .enum_values(Some(OrderStatus::ALL.map(OrderStatus::as_str)))
            .into()
    }
}

impl ToSchema for OrderStatusName {}

/// An order.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderDto {
    pub id: String,
    /// `received`, `preparing`, `ready`, `out_for_delivery`, `completed` or `cancelled`.
    #[schema(value_type = OrderStatusName, example = "received")]
    pub status: String,
    /// Who ordered: shown only to the customer (their session or bearer token, the order's
    /// `Order-Token`, or the browser that placed it) and to staff.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer: Option<CustomerDto>,
    pub items: Vec<OrderLineDto>,
    pub total: MoneyDto,
    /// Pickup or delivery; absent on orders placed without saying, and, like `customer`,
    /// shown only to the customer and staff.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fulfilment: Option<FulfilmentDto>,
    /// Only in the answer to placing the order: send it as `Order-Token` to read the
    /// order's personal details or cancel it later. Keep it like a password.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

impl From<SelectedOption> for SelectedOptionDto {
    fn from(o: SelectedOption) -> Self {
        SelectedOptionDto {
            group: o.group_id,
            group_name: o.group_name,
            choice: o.choice_id,
            choice_name: o.choice_name,
            price_delta: o.price_delta,
        }
    }
}

impl From<OrderLine> for OrderLineDto {
    fn from(l: OrderLine) -> Self {
        OrderLineDto {
            product_id: l.product_id,
            product_name: l.product_name,
            quantity: l.quantity,
            options: l.options.into_iter().map(Into::into).collect(),
            unit_price: l.unit_price.into(),
            line_total: l.line_total.into(),
        }
    }
}

impl From<Order> for OrderDto {
    fn from(o: Order) -> Self {
        OrderDto {
            id: o.id,
            status: o.status.to_string(),
            customer: Some(CustomerDto { id: o.customer.key.0, email: o.customer.email, name: o.customer.name }),
            items: o.lines.into_iter().map(Into::into).collect(),
            total: o.total.into(),
            fulfilment: o.fulfilment.map(|f| FulfilmentDto::new(f, o.phone, o.slot)),
            created_at: rfc3339(o.created_at),
            updated_at: rfc3339(o.updated_at),
            access_token: None,
        }
    }
}

impl OrderDto {
    /// The order as anyone holding its id may see it: status and items, nothing personal.
    pub fn without_personal_details(mut self) -> OrderDto {
        self.customer = None;
        self.fulfilment = None;
        self
    }
}

/// How an order reaches the customer, when, and a number to call: `{"type": "pickup"}`, or
/// `{"type": "delivery", "address": "1 Main St", "city": "Springfield", "postcode": "12345",
/// "phone": "+1 555 0123", "slot": "2026-11-30T18:15:00Z"}`. `phone` is required for delivery.
/// Without `slot` the order is for as soon as possible.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FulfilmentDto {
    /// Collected at the counter.
    Pickup {
        /// Optional for pickup.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(example = "+1 555 0123", min_length = 6, max_length = 25, pattern = "^\\+?[0-9 ()-]+$")]
        phone: Option<String>,
        /// When to have it ready: the start of a slot (RFC 3339) within the shop's opening
        /// hours, at least 20 minutes ahead, today or tomorrow, on a quarter hour. Left out:
        /// as soon as possible. A shop without opening hours takes only that.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(example = "2026-11-30T18:15:00Z", format = DateTime)]
        slot: Option<String>,
    },
    /// Delivered to an address.
    Delivery {
        /// Street and number: one line of plain text (no control characters or bidi overrides).
        #[schema(
            example = "1 Main St",
            min_length = 1,
            max_length = 200,
            pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F\\u202A-\\u202E\\u2066-\\u2069]*[^\\s\\u0000-\\u001F\\u007F-\\u009F\\u202A-\\u202E\\u2066-\\u2069][^\\u0000-\\u001F\\u007F-\\u009F\\u202A-\\u202E\\u2066-\\u2069]*$"
        )]
        address: String,
        /// One line of plain text.
        #[schema(
            example = "Springfield",
            min_length = 1,
            max_length = 100,
            pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F\\u202A-\\u202E\\u2066-\\u2069]*[^\\s\\u0000-\\u001F\\u007F-\\u009F\\u202A-\\u202E\\u2066-\\u2069][^\\u0000-\\u001F\\u007F-\\u009F\\u202A-\\u202E\\u2066-\\u2069]*$"
        )]
        city: String,
        /// 2 to 12 letters, digits, spaces or '-'.
        #[schema(
            example = "12345",
            min_length = 2,
            max_length = 12,
            pattern = "^[A-Za-z0-9][A-Za-z0-9 -]{0,10}[A-Za-z0-9]$"
        )]
        postcode: String,
        /// Required for delivery, so the driver can call: 6 to 15 digits, with spaces, '-',
        /// '(', ')' and a leading '+' allowed between them. (Orders placed before phone
        /// numbers were asked for have none.)
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(example = "+1 555 0123", min_length = 6, max_length = 25, pattern = "^\\+?[0-9 ()-]+$")]
        phone: Option<String>,
        /// When to deliver, as for pickup.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(example = "2026-11-30T18:15:00Z", format = DateTime)]
        slot: Option<String>,
    },
}

/// The validated parts of a [`FulfilmentDto`].
pub struct Handover {
    pub fulfilment: Fulfilment,
    pub phone: Option<Phone>,
    pub slot: Option<Millis>,
}

impl FulfilmentDto {
    /// The order's fulfilment, phone and time as the API shows them.
    pub fn new(f: Fulfilment, phone: Option<Phone>, slot: Option<Millis>) -> Self {
        let phone = phone.map(|p| p.as_str().to_owned());
        let slot = slot.map(rfc3339);
        match f {
            Fulfilment::Pickup => FulfilmentDto::Pickup { phone, slot },
            Fulfilment::Delivery(DeliveryAddress { address, city, postcode }) => {
                FulfilmentDto::Delivery { address, city, postcode, phone, slot }
            }
        }
    }

    /// The validated domain values; a bad address names its first faulty field. Whether the
    /// shop offers the slot is checked apart (`ShopSettings::check_slot`).
    pub fn into_domain(self) -> Result<Handover, ValidationError> {
        let (fulfilment, phone, slot) = match self {
            FulfilmentDto::Pickup { phone, slot } => (Fulfilment::Pickup, phone, slot),
            FulfilmentDto::Delivery { address, city, postcode, phone, slot } => {
                let address =
                    DeliveryAddress::new(&address, &city, &postcode).map_err(|mut errors| errors.remove(0))?;
                (Fulfilment::Delivery(address), phone, slot)
            }
        };
        let phone = phone.as_deref().map(Phone::new).transpose()?;
        let slot = slot
            .map(|s| {
                parse_rfc3339(&s).ok_or_else(|| {
                    ValidationError::new("fulfilment.slot", "give the time in RFC 3339, like 2026-11-30T18:15:00Z")
                })
            })
            .transpose()?;
        Ok(Handover { fulfilment, phone, slot })
    }
}

/// A page of orders, newest first.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderPageDto {
    pub orders: Vec<OrderDto>,
    /// Pass as `cursor` to fetch the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

impl From<OrderPage> for OrderPageDto {
    fn from(p: OrderPage) -> Self {
        OrderPageDto { orders: p.orders.into_iter().map(Into::into).collect(), next_cursor: p.next_cursor }
    }
}
