//! The demo shop seeded into an empty database: a pizza menu with options that change the
//! price, drinks, and a flash-sale section with limited stock, limits and sale windows.

use crate::clock::now_millis;
use crate::{Store, StoreError};
use stampede_domain::{Currency, Money, OptionChoice, OptionGroup, Product, SaleRules};

const HOUR_MS: i64 = 3_600_000;

fn choice(id: &str, name: &str, price_delta: i64) -> OptionChoice {
    OptionChoice { id: id.into(), name: name.into(), price_delta }
}

fn pizza_options() -> Vec<OptionGroup> {
    vec![
        OptionGroup::one_of(
            "size",
            "Size",
            "medium",
            vec![
                choice("small", "Small 25 cm", -300),
                choice("medium", "Medium 30 cm", 0),
                choice("large", "Large 35 cm", 400),
            ],
        ),
        OptionGroup::one_of(
            "crust",
            "Crust",
            "classic",
            vec![
                choice("classic", "Classic", 0),
                choice("thin", "Thin & crispy", 0),
                choice("stuffed", "Cheese-stuffed", 250),
            ],
        ),
        OptionGroup::up_to(
            "toppings",
            "Extra toppings",
            5,
            vec![
                choice("extra-cheese", "Extra mozzarella", 150),
                choice("mushrooms", "Mushrooms", 100),
                choice("olives", "Black olives", 100),
                choice("pepperoni", "Pepperoni", 175),
                choice("ham", "Ham", 175),
                choice("jalapenos", "Jalapeños", 75),
                choice("pineapple", "Pineapple", 100),
                choice("basil", "Fresh basil", 50),
            ],
        ),
    ]
}

fn product(
    id: &str,
    name: &str,
    description: &str,
    category: &str,
    cents: i64,
    option_groups: Vec<OptionGroup>,
    sale: SaleRules,
) -> Product {
    Product {
        description: description.into(),
        option_groups,
        sale,
        ..Product::new(id, name, category, Money::new(cents, Currency::USD))
    }
}

/// The demo catalog with initial stock, sale windows placed relative to `now` (Unix ms).
pub fn catalog(now: i64) -> Vec<(Product, u32)> {
    let pizza = |id, name, description, cents| {
        (product(id, name, description, "pizza", cents, pizza_options(), SaleRules::default()), 500)
    };
    let drink = |id, name, description, cents| {
        (product(id, name, description, "drinks", cents, vec![], SaleRules::default()), 1000)
    };
    let flash =
        |id, name, description, cents, sale| (product(id, name, description, "flash-sale", cents, vec![], sale), 50);
    vec![
        pizza("margherita", "Margherita", "San Marzano tomato, fior di latte, basil, olive oil.", 1100),
        pizza("pepperoni", "Pepperoni", "Tomato, mozzarella and a generous layer of spicy pepperoni.", 1300),
        pizza(
            "quattro-formaggi",
            "Quattro Formaggi",
            "Mozzarella, gorgonzola, parmesan and fontina on a white base.",
            1450,
        ),
        pizza("diavola", "Diavola", "Tomato, mozzarella, hot salami, chili flakes and jalapeños.", 1350),
        pizza("funghi", "Funghi", "Tomato, mozzarella, roasted mushrooms, garlic and thyme.", 1250),
        pizza("hawaiian", "Hawaiian", "Tomato, mozzarella, ham and pineapple. Yes, really.", 1300),
        pizza("veggie-garden", "Veggie Garden", "Tomato, mozzarella, peppers, red onion, olives and courgette.", 1300),
        drink("cola", "Cola", "330 ml can.", 250),
        drink("sparkling-water", "Sparkling water", "500 ml bottle.", 200),
        drink("lemonade", "House lemonade", "Freshly squeezed, 400 ml.", 350),
        flash(
            "midnight-truffle",
            "Midnight Truffle Pizza",
            "Black truffle, fior di latte and honey. 50 made tonight: two per customer.",
            1900,
            SaleRules { per_customer_max: Some(2), per_order_max: Some(2), ..SaleRules::default() },
        ),
        flash(
            "pizza-party-box",
            "Pizza Party Box",
            "Four large pizzas and four drinks at half price. One per customer.",
            3200,
            SaleRules { per_customer_max: Some(1), per_order_max: Some(1), ..SaleRules::default() },
        ),
        flash(
            "golden-slice",
            "Golden Slice Friday",
            "A gold-leaf slice for the first 50 customers when the sale opens.",
            500,
            SaleRules {
                starts_at: Some(now + HOUR_MS),
                ends_at: Some(now + 25 * HOUR_MS),
                per_customer_max: Some(1),
                per_order_max: Some(1),
                ..SaleRules::default()
            },
        ),
    ]
}

/// Seeds the demo shop; returns the number of products created.
pub async fn demo_shop(store: &dyn Store) -> Result<usize, StoreError> {
    let now = now_millis();
    let mut created = 0;
    for (product, stock) in catalog(now) {
        match store.create_product(product, stock).await {
            Ok(_) => created += 1,
            // Instances starting together on one empty shared store (PostgreSQL, DynamoDB)
            // all seed: whichever created a product first wins, and the others go on.
            Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(created)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn seeding_an_already_seeded_store_creates_nothing_and_does_not_fail() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::SqliteStore::open(crate::SqliteConfig::in_dir(dir.path())).unwrap();
        let first = demo_shop(&store).await.unwrap();
        assert_eq!(first, catalog(0).len());
        assert_eq!(demo_shop(&store).await.unwrap(), 0, "a second instance's seed finds every product there");
        assert_eq!(store.products().await.unwrap().len(), first);
    }

    #[test]
    fn the_demo_catalog_is_valid_and_complete() {
        let products = catalog(0);
        for (p, _) in &products {
            p.validate().unwrap_or_else(|e| panic!("{}: {e}", p.id));
        }
        let count = |cat: &str| products.iter().filter(|(p, _)| p.category == cat).count();
        assert!(count("pizza") >= 6);
        assert!(count("flash-sale") >= 3);
        assert!(products.iter().filter(|(p, _)| p.category == "pizza").all(|(p, _)| p.option_groups.len() == 3));
    }
}
