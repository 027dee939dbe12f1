//! The in-memory view of products and stock that reads and the sold-out fast path use.
//! Only the writer changes it, and only after its transaction has committed.

use crate::ProductView;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// Products in menu order with the stock last committed.
#[derive(Default)]
pub struct LiveCatalog {
    products: Vec<ProductView>,
    index: HashMap<String, usize>,
}

/// Shared handle to the live catalog.
pub type SharedCatalog = Arc<RwLock<LiveCatalog>>;

impl LiveCatalog {
    /// Builds the view from products already in menu order.
    pub fn new(products: Vec<ProductView>) -> LiveCatalog {
        let index = products.iter().enumerate().map(|(i, p)| (p.product.id.clone(), i)).collect();
        LiveCatalog { products, index }
    }

    /// All products in menu order.
    pub fn all(&self) -> &[ProductView] {
        &self.products
    }

    /// One product.
    pub fn get(&self, id: &str) -> Option<&ProductView> {
        self.index.get(id).map(|&i| &self.products[i])
    }

    /// Adds or replaces a product.
    pub fn upsert(&mut self, view: ProductView) {
        match self.index.get(&view.product.id) {
            Some(&i) => self.products[i] = view,
            None => {
                self.index.insert(view.product.id.clone(), self.products.len());
                self.products.push(view);
            }
        }
    }

    /// Records committed stock.
    pub fn set_stock(&mut self, id: &str, stock: u32) {
        if let Some(&i) = self.index.get(id) {
            self.products[i].stock = stock;
        }
    }
}
