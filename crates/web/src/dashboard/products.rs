//! `/admin/products`: the catalog for admins. Create, edit (name, price, option groups with
//! price deltas, sale window, per-customer and per-order limits), archive and restore, and
//! stock adjustments with a reason. Each change is audited.

use super::page::{AdminError, AdminShell, Done, auth, backoffice, redirect_done};
use super::product_form::{FieldErrors, ProductForm};
use crate::AppState;
use crate::api::line_summary::{LineSummaryDto, line_summary};
use crate::auth::guard::Staff;
use crate::shop_time::ShopZone;
use crate::storefront::render;
use crate::storefront::wait_label;
use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use stampede_domain::is_slug;
use stampede_domain::{Millis, Product};
use stampede_store::{ProductView, StoreError, User};

/// A row of the product list.
pub struct ProductRow {
    pub id: String,
    pub name: String,
    pub category: String,
    pub price: String,
    pub stock: u32,
    pub archived: bool,
    /// "2026-11-27 09:00 – 2026-11-27 10:00" in the shop's zone, empty when always on sale.
    pub sale: String,
    pub limit: String,
    /// Stock counters on DynamoDB.
    pub shards: u32,
}

impl ProductRow {
    fn new(v: &ProductView, zone: &ShopZone) -> ProductRow {
        let p = &v.product;
        let sale = match (p.sale.starts_at, p.sale.ends_at) {
            (None, None) => String::new(),
            (s, e) => format!(
                "{} – {}",
                s.map(|t| zone.input_text(t)).unwrap_or_else(|| "now".into()),
                e.map(|t| zone.input_text(t)).unwrap_or_else(|| "open-ended".into())
            ),
        };
        ProductRow {
            id: p.id.clone(),
            name: p.name.clone(),
            category: p.category.clone(),
            price: crate::storefront::display_price(p.base_price),
            stock: v.stock,
            archived: p.archived,
            sale: sale.replace('T', " "),
            limit: p.sale.per_customer_max.map(|n| format!("{n} per customer")).unwrap_or_default(),
            shards: p.stock_shards,
        }
    }
}

/// A waiting room's line on the product page, in words.
pub struct LinePanel {
    pub in_line: u64,
    pub waiting: u64,
    pub admitted: u64,
    /// Units left that no one admitted holds.
    pub units_to_offer: u64,
    pub sold_out: bool,
    /// "30 a minute", or the stock-led pace.
    pub pace: String,
    /// "in 4 min": until everyone waiting now is admitted, or the last unit offered.
    pub clears: String,
    /// What `clears` is the time until.
    pub clears_what: &'static str,
    /// Whether anyone waits for a unit yet to be offered.
    pub clears_in_future: bool,
    /// When the sale opens, in the shop's zone, while it has not.
    pub opens: Option<String>,
}

impl LinePanel {
    fn new(line: &LineSummaryDto, view: &ProductView, zone: &ShopZone) -> LinePanel {
        LinePanel {
            in_line: line.in_line,
            waiting: line.waiting,
            admitted: line.admitted,
            units_to_offer: line.units_to_offer,
            sold_out: line.stock == 0,
            pace: match line.admissions_per_minute {
                Some(n) => format!("{n} a minute"),
                None => "as fast as the stock left allows".to_owned(),
            },
            clears: wait_label(
                0,
                Millis::try_from(line.estimated_clear_seconds).unwrap_or(Millis::MAX).saturating_mul(1000),
            ),
            clears_what: if line.waiting > line.units_to_offer { "Last unit offered" } else { "All admitted" },
            clears_in_future: line.estimated_clear_seconds > 0,
            opens: line
                .sale_starts_at
                .as_ref()
                .and(view.product.sale.starts_at)
                .map(|t| format!("{} ({})", zone.input_text(t).replace('T', " "), zone.name())),
        }
    }
}

#[derive(Template)]
#[template(path = "admin/products.html")]
struct ProductsPage {
    shell: AdminShell,
    /// The shop's time zone, which sale windows are shown in.
    zone: String,
    products: Vec<ProductRow>,
    notice: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/product_form.html")]
struct ProductFormPage {
    shell: AdminShell,
    /// `None` for a new product.
    existing: Option<ProductRow>,
    form: ProductForm,
    /// The shop's time zone, which the sale window is typed in.
    zone: String,
    errors: FieldErrors,
    stock_errors: FieldErrors,
    stock_form: StockForm,
    notice: Option<String>,
    /// The store splits stock over counters (DynamoDB): offer `stockShards`.
    split_stock: bool,
    /// The line, for a product with a waiting room.
    line: Option<LinePanel>,
}

impl ProductFormPage {
    fn error(&self, field: &str) -> Option<&str> {
        self.errors.get(field).map(String::as_str)
    }

    fn stock_error(&self, field: &str) -> Option<&str> {
        self.stock_errors.get(field).map(String::as_str)
    }
}

fn notice(done: Option<&str>) -> Option<String> {
    Some(
        match done? {
            "created" => "Product created.",
            "saved" => "Changes saved.",
            "archived" => "Product archived: it is off the menu and cannot be bought.",
            "restored" => "Product restored to the menu.",
            "stock" => "Stock adjusted.",
            _ => return None,
        }
        .to_owned(),
    )
}

/// `GET /admin/products`.
pub async fn list(
    State(app): State<AppState>,
    Staff(staff): Staff,
    Query(done): Query<Done>,
) -> Result<Response, AdminError> {
    let zone = &app.shop.zone;
    let products = app.store.products().await?.iter().map(|v| ProductRow::new(v, zone)).collect();
    let page = ProductsPage {
        shell: AdminShell::new("Products", &staff, "products"),
        zone: zone.name().to_owned(),
        products,
        notice: notice(done.done.as_deref()),
    };
    Ok(render(StatusCode::OK, &page))
}

fn form_page(
    app: &AppState,
    staff: &User,
    existing: Option<&ProductView>,
    form: ProductForm,
    errors: FieldErrors,
) -> ProductFormPage {
    let title = existing.map_or_else(|| "New product".to_owned(), |v| format!("Edit {}", v.product.name));
    let zone = &app.shop.zone;
    ProductFormPage {
        shell: AdminShell::new(title, staff, "products"),
        existing: existing.map(|v| ProductRow::new(v, zone)),
        form: form.with_spare_group(),
        zone: zone.name().to_owned(),
        errors,
        stock_errors: FieldErrors::new(),
        stock_form: StockForm::default(),
        notice: None,
        split_stock: app.store.splits_stock(),
        line: None,
    }
}

/// The edit form filled from the stored product.
fn edit_page(app: &AppState, staff: &User, view: &ProductView) -> ProductFormPage {
    let form = ProductForm::from_product(&view.product, &app.shop.zone);
    form_page(app, staff, Some(view), form, FieldErrors::new())
}

/// `GET /admin/products/new`.
pub async fn new_form(State(app): State<AppState>, Staff(staff): Staff) -> Response {
    render(StatusCode::OK, &form_page(&app, &staff, None, ProductForm::blank(), FieldErrors::new()))
}

/// `POST /admin/products`: creates a product from the form.
pub async fn create(
    State(app): State<AppState>,
    Staff(staff): Staff,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, AdminError> {
    let form = ProductForm::from_fields(&fields);
    let stock = form.initial_stock();
    let product = form.to_product(false, &app.shop.zone);
    let (product, stock) = match (product, stock) {
        (Ok(p), Ok(s)) if is_slug(&form.id) => (p, s),
        (product, stock) => {
            let mut errors = product.err().unwrap_or_default();
            if let Err(e) = stock {
                errors.insert("stock".into(), e);
            }
            if !is_slug(&form.id) {
                errors.insert("id".into(), "Use 1 to 64 lower-case letters, digits or '-', e.g. calzone.".into());
            }
            return Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &form_page(&app, &staff, None, form, errors)));
        }
    };
    match app.store.create_product(product, stock).await {
        Ok(view) => {
            let detail = format!("created “{}” with stock {stock}", view.product.name);
            auth(&app)?.audit(&staff, "product.create", &view.product.id, detail).await;
            Ok(redirect_done(&format!("/admin/products/{}", view.product.id), "done", "created"))
        }
        Err(StoreError::Conflict(_)) => {
            let errors = FieldErrors::from([("id".to_owned(), "Another product already has this id.".to_owned())]);
            Ok(render(StatusCode::CONFLICT, &form_page(&app, &staff, None, form, errors)))
        }
        Err(e) => Err(e.into()),
    }
}

async fn find(app: &AppState, id: &str) -> Result<ProductView, AdminError> {
    app.store.product(id).await?.ok_or(AdminError::NotFound("product"))
}

/// `GET /admin/products/{id}`: the edit form and the stock form.
pub async fn edit_form(
    State(app): State<AppState>,
    Staff(staff): Staff,
    Path(id): Path<String>,
    Query(done): Query<Done>,
) -> Result<Response, AdminError> {
    let view = find(&app, &id).await?;
    let mut page = edit_page(&app, &staff, &view);
    page.notice = notice(done.done.as_deref());
    if let Some(rules) = &view.product.sale.waiting_room {
        // The page still serves its forms when the store cannot count the line just now.
        let line = line_summary(&app, &view, rules).await.ok();
        page.line = line.map(|l| LinePanel::new(&l, &view, &app.shop.zone));
    }
    Ok(render(StatusCode::OK, &page))
}

/// `POST /admin/products/{id}`: saves the edit form.
pub async fn update(
    State(app): State<AppState>,
    Staff(staff): Staff,
    Path(id): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, AdminError> {
    let view = find(&app, &id).await?;
    let mut form = ProductForm::from_fields(&fields);
    // The id is the product's identity on orders and carts; it never changes.
    form.id = id.clone();
    let product = match form.to_product(view.product.archived, &app.shop.zone) {
        // Counters are laid out when a product is created; an edit keeps them.
        Ok(p) => Product { stock_shards: view.product.stock_shards, ..p },
        Err(errors) => {
            return Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &form_page(&app, &staff, Some(&view), form, errors)));
        }
    };
    if let Some(message) = another_sale_in_a_used_line(&app, &view, &product).await? {
        let errors = FieldErrors::from([("sale_starts".to_owned(), message.to_owned())]);
        return Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &form_page(&app, &staff, Some(&view), form, errors)));
    }
    let detail = changes(&view, &product);
    let saved = backoffice(&app)?.update_product(product).await?;
    auth(&app)?.audit(&staff, "product.update", &id, detail).await;
    Ok(redirect_done(&format!("/admin/products/{}", saved.product.id), "done", "saved"))
}

/// Why an edit may not move the sale's opening: a waiting room keeps its line (tickets, who
/// was let in, the pace counted from opening) with the product, so once it has let anyone in,
/// a new opening would be a second sale judged by the first one's line.
async fn another_sale_in_a_used_line(
    app: &AppState,
    before: &ProductView,
    after: &Product,
) -> Result<Option<&'static str>, AdminError> {
    if after.sale.waiting_room.is_none() || before.product.sale.starts_at == after.sale.starts_at {
        return Ok(None);
    }
    let used = app.store.room(&before.product.id).await?.admitted() > 0;
    Ok(used.then_some(
        "This product's waiting room has already let people in: its line belongs to that sale. \
         To run another sale, create a new product.",
    ))
}

/// A short account of what an edit changed, for the audit log.
fn changes(before: &ProductView, after: &stampede_domain::Product) -> String {
    let b = &before.product;
    let mut parts = Vec::new();
    if b.name != after.name {
        parts.push(format!("name “{}” → “{}”", b.name, after.name));
    }
    if b.base_price != after.base_price {
        parts.push(format!(
            "price {} → {}",
            crate::storefront::display_price(b.base_price),
            crate::storefront::display_price(after.base_price)
        ));
    }
    if b.sale != after.sale {
        parts.push("sale window or limits".into());
    }
    if b.option_groups != after.option_groups {
        parts.push("option groups".into());
    }
    if b.description != after.description || b.category != after.category || b.image != after.image {
        parts.push("description, category or image".into());
    }
    if parts.is_empty() { "saved without changes".into() } else { format!("changed {}", parts.join("; ")) }
}

/// The archive form: `archived=true` archives, anything else restores.
#[derive(Deserialize)]
pub struct ArchiveForm {
    #[serde(default)]
    archived: String,
}

/// `POST /admin/products/{id}/archive`: takes a product off the menu, or puts it back.
pub async fn archive(
    State(app): State<AppState>,
    Staff(staff): Staff,
    Path(id): Path<String>,
    Form(form): Form<ArchiveForm>,
) -> Result<Response, AdminError> {
    let view = find(&app, &id).await?;
    let archived = form.archived == "true";
    let mut product = view.product;
    product.archived = archived;
    backoffice(&app)?.update_product(product).await?;
    let (action, done) = if archived { ("product.archive", "archived") } else { ("product.restore", "restored") };
    auth(&app)?.audit(&staff, action, &id, done).await;
    Ok(redirect_done(&format!("/admin/products/{id}"), "done", done))
}

/// The stock form.
#[derive(Debug, Default, Deserialize)]
pub struct StockForm {
    /// Units to add; negative takes them away.
    #[serde(default)]
    pub delta: String,
    #[serde(default)]
    pub reason: String,
}

/// `POST /admin/products/{id}/stock`: adds or takes away stock, with the reason audited.
pub async fn adjust_stock(
    State(app): State<AppState>,
    Staff(staff): Staff,
    Path(id): Path<String>,
    Form(stock_form): Form<StockForm>,
) -> Result<Response, AdminError> {
    let view = find(&app, &id).await?;
    let mut errors = FieldErrors::new();
    let delta = match stock_form.delta.trim().trim_start_matches('+').parse::<i64>() {
        Ok(0) | Err(_) => {
            errors.insert("delta".into(), "Enter how many units to add, or a negative number to take away.".into());
            0
        }
        Ok(d) => d,
    };
    let reason = stock_form.reason.trim().to_owned();
    if reason.is_empty() || reason.chars().count() > 200 {
        errors.insert("reason".into(), "Say why, in up to 200 characters (e.g. delivery from supplier).".into());
    }
    if errors.is_empty() {
        match backoffice(&app)?.adjust_stock(&id, delta).await {
            Ok(after) => {
                let detail = format!("stock {} → {} ({delta:+}): {reason}", view.stock, after.stock);
                auth(&app)?.audit(&staff, "stock.adjust", &id, detail).await;
                return Ok(redirect_done(&format!("/admin/products/{id}"), "done", "stock"));
            }
            Err(StoreError::Conflict(_)) => {
                errors.insert("delta".into(), format!("Only {} in stock; stock cannot go below zero.", view.stock));
            }
            Err(e) => return Err(e.into()),
        }
    }
    let mut page = edit_page(&app, &staff, &view);
    page.stock_errors = errors;
    page.stock_form = stock_form;
    Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page))
}
