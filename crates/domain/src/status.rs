//! The order status workflow: received → preparing → ready | out for delivery → completed,
//! with cancellation while the kitchen has not started.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Where an order is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Received,
    Preparing,
    Ready,
    OutForDelivery,
    Completed,
    Cancelled,
}

impl OrderStatus {
    /// Every status, in workflow order.
    pub const ALL: [OrderStatus; 6] = [
        OrderStatus::Received,
        OrderStatus::Preparing,
        OrderStatus::Ready,
        OrderStatus::OutForDelivery,
        OrderStatus::Completed,
        OrderStatus::Cancelled,
    ];

    /// The wire and database name.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Received => "received",
            OrderStatus::Preparing => "preparing",
            OrderStatus::Ready => "ready",
            OrderStatus::OutForDelivery => "out_for_delivery",
            OrderStatus::Completed => "completed",
            OrderStatus::Cancelled => "cancelled",
        }
    }

    /// What the status means to the customer, in pages and email.
    pub fn label(self) -> &'static str {
        match self {
            OrderStatus::Received => "Order received",
            OrderStatus::Preparing => "In the oven",
            OrderStatus::Ready => "Ready for pickup",
            OrderStatus::OutForDelivery => "Out for delivery",
            OrderStatus::Completed => "Completed",
            OrderStatus::Cancelled => "Cancelled",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<OrderStatus> {
        OrderStatus::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Whether staff may move an order from `self` to `next`.
    pub fn can_become(self, next: OrderStatus) -> bool {
        use OrderStatus::*;
        matches!(
            (self, next),
            (Received, Preparing)
                | (Preparing, Ready | OutForDelivery)
                | (Ready | OutForDelivery, Completed)
                | (Received | Preparing, Cancelled)
        )
    }

    /// Whether the customer may still cancel: only before the kitchen starts.
    pub fn customer_can_cancel(self) -> bool {
        self == OrderStatus::Received
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in OrderStatus::ALL {
            assert_eq!(OrderStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(OrderStatus::parse("lost"), None);
    }

    #[test]
    fn workflow_moves_forward_only() {
        use OrderStatus::*;
        assert!(Received.can_become(Preparing));
        assert!(Preparing.can_become(OutForDelivery));
        assert!(!Completed.can_become(Received));
        assert!(!Cancelled.can_become(Preparing));
        assert!(!Ready.can_become(Cancelled));
        assert!(Received.customer_can_cancel() && !Preparing.customer_can_cancel());
    }
}
