//! One suite for the storage trait, run against every adapter: SQLite always, DynamoDB (on
//! a local moto server this test starts) with `--features aws`, PostgreSQL (on a throwaway
//! cluster this test starts) with `--features postgres`. Each check gets a fresh, empty
//! store. Run: `cargo test -p stampede-store --features aws,postgres --test it conformance::`.

pub mod accounts_checks;
pub mod analytics_checks;
pub mod backoffice_checks;
#[cfg(feature = "aws")]
pub mod budget;
pub mod checks;
#[cfg(feature = "postgres")]
pub mod instances;
pub mod interleaved;
#[cfg(feature = "aws")]
pub mod moto;
#[cfg(feature = "postgres")]
pub mod pg;
#[cfg(feature = "postgres")]
pub mod pg_server;
#[cfg(feature = "postgres")]
mod pg_tls;
pub mod staff;

use stampede_store::{SqliteConfig, SqliteStore, Store};
use std::sync::Arc;

/// A fresh store and whatever must live as long as it does (a temp dir).
pub struct Fixture {
    pub store: Arc<dyn Store>,
    _guard: Box<dyn std::any::Any + Send>,
}

async fn sqlite() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(SqliteConfig::in_dir(dir.path())).unwrap();
    Fixture { store: Arc::new(store), _guard: Box::new(dir) }
}

#[cfg(feature = "aws")]
async fn dynamo() -> Fixture {
    let (store, guard) = moto::fresh_store().await;
    Fixture { store, _guard: Box::new(guard) }
}

#[cfg(feature = "postgres")]
async fn postgres() -> Fixture {
    let (store, url) = pg::fresh_store().await;
    Fixture { store, _guard: Box::new(url) }
}

/// One `#[tokio::test]` per check and adapter, so a failure names both.
macro_rules! suite {
    ($adapter:ident, $($check:ident),+ $(,)?) => {
        suite!($adapter as $adapter, $($check),+);
    };
    ($adapter:ident as $module:ident, $($check:ident),+ $(,)?) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $check() {
                    let fixture = super::$adapter().await;
                    super::checks::$check(fixture.store.clone()).await;
                }
            )+
        }
    };
}

macro_rules! every_adapter {
    ($($check:ident),+ $(,)?) => {
        suite!(sqlite, $($check),+);
        #[cfg(feature = "aws")]
        suite!(dynamo, $($check),+);
        #[cfg(feature = "postgres")]
        suite!(postgres, $($check),+);
    };
}

every_adapter!(
    catalog_keeps_creation_order_and_refuses_duplicates,
    placing_takes_stock_and_writes_the_outbox_event_with_the_order,
    shortfalls_and_unknown_products_are_refused,
    idempotent_retries_replay_the_original_order,
    concurrent_retries_with_one_key_place_one_order,
    customer_limits_count_earlier_orders_until_cancelled,
    concurrent_orders_of_one_customer_respect_the_limit,
    cancelling_returns_stock_exactly_once,
    concurrent_cancels_return_stock_once,
    staff_status_changes_follow_the_workflow,
    many_concurrent_orders_on_little_stock_never_oversell,
    sharded_stock_never_oversells_and_sells_out_only_when_every_shard_is_empty,
    an_order_larger_than_any_shard_draws_from_several,
    customer_orders_page_newest_first,
    outbox_claims_are_exclusive_and_settle_once,
    batched_order_reads_and_settles_answer_each_in_order,
    parked_events_can_be_retried,
    parked_events_are_put_back_in_pages,
    a_throttled_attempt_is_given_back,
    the_mailbox_keeps_one_message_per_event_and_recipient,
    only_products_with_a_waiting_room_are_in_line,
    joining_the_line_is_idempotent_per_customer_and_ordered_by_rank,
    the_watermark_admits_in_rank_order_and_lapsed_admissions_pass_units_on,
    a_lapsed_admission_s_unit_passes_on_when_its_own_window_closes,
    a_buyer_of_several_units_counts_as_one_person,
    every_mark_still_held_is_found_however_many,
    purchase_marks_never_free_a_unit_twice,
    a_sale_marked_after_the_stock_was_read_is_not_counted,
    a_shared_line_lets_a_ticket_in_only_once_late_writes_have_landed,
    instances_count_each_other_s_joins_once_they_read_the_line_again,
);

// Checks of how the engines that keep the outbox in one indexed table (SQLite, PostgreSQL)
// keep it cheap to read.
suite!(sqlite as sqlite_outbox_index, an_order_s_later_events_wait_while_its_first_event_waits_for_a_retry);
#[cfg(feature = "postgres")]
suite!(postgres as postgres_outbox_index, an_order_s_later_events_wait_while_its_first_event_waits_for_a_retry);

/// The back office and analytics on every engine: one test per check and engine, each on a fresh shop, those in
/// `analytics_checks` starting from its `history()`.
macro_rules! staff_checks {
    ($engine:ident, $checks:ident, $history:expr, $($check:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $check() {
                let history: Option<staff::History> = $history;
                super::$checks::$check(staff::$engine(history.as_ref()).await).await;
            }
        )+
    };
}

macro_rules! staff_suite {
    ($module:ident, $engine:ident) => {
        mod $module {
            use super::{analytics_checks, staff};
            staff_checks!(
                $engine,
                backoffice_checks,
                None,
                edits_and_stock_adjustments_show_at_once,
                adjusted_stock_on_several_counters_sells_exactly,
                the_order_search_filters_by_status_time_and_customer,
                adjustments_racing_orders_keep_every_unit,
            );
            staff_checks!(
                $engine,
                analytics_checks,
                Some(analytics_checks::history()),
                daily_report_over_three_days_gives_the_exact_figures,
                flash_sales_report_sell_through_and_time_to_sell_out,
                hourly_buckets_include_empty_hours_and_exclude_the_end,
                a_range_without_orders_is_all_zero_buckets,
                export_pages_through_every_order_in_the_range_once,
                orders_placed_through_the_store_show_up_and_cancelling_removes_them,
            );
        }
    };
}

/// The account checks, on every engine: one test per check and engine, each on a fresh store.
macro_rules! accounts_suite {
    ($module:ident, $fixture:ident, $($check:ident),+ $(,)?) => {
        mod $module {
            use super::{accounts_checks, staff};
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $check() {
                    accounts_checks::$check(staff::$fixture().await).await;
                }
            )+
        }
    };
}

macro_rules! every_accounts_engine {
    ($($check:ident),+ $(,)?) => {
        accounts_suite!(sqlite_accounts, sqlite_accounts, $($check),+);
        #[cfg(feature = "postgres")]
        accounts_suite!(postgres_accounts, postgres_accounts, $($check),+);
        #[cfg(feature = "aws")]
        accounts_suite!(dynamo_accounts, dynamo_accounts, $($check),+);
    };
}

every_accounts_engine!(
    users_sessions_and_audit_round_trip,
    staff_management_keeps_an_active_admin,
    links_open_once_and_carts_and_orders_follow_the_account,
);

staff_suite!(sqlite_staff, sqlite);
#[cfg(feature = "postgres")]
staff_suite!(postgres_staff, postgres);
#[cfg(feature = "aws")]
staff_suite!(dynamo_staff, dynamo);

/// One `#[tokio::test]` per check of the module `$checks`, for checks of one engine that
/// set up their own stores.
#[cfg(any(feature = "aws", feature = "postgres"))]
macro_rules! engine_checks {
    ($checks:ident, $($check:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $check() {
                super::$checks::$check().await;
            }
        )+
    };
}

/// DynamoDB only: the per-order budget in calls, and many instances racing.
#[cfg(feature = "aws")]
mod dynamo_budget {
    engine_checks!(
        budget,
        an_uncontended_order_costs_one_transaction_and_at_most_one_read,
        a_known_sold_out_product_is_refused_without_calls,
        catalog_views_are_served_from_the_snapshot,
        many_clients_on_many_instances_never_oversell,
        a_sold_out_marker_tells_other_instances,
        audits_read_aggregates_and_history_expires,
        a_product_edit_reaches_other_instances_orders,
        a_product_made_on_one_instance_is_found_on_another_at_once,
        the_order_search_and_a_report_read_a_day_not_the_table,
        a_claim_reads_the_oldest_events_first_and_further_only_when_it_must,
    );
}

/// PostgreSQL only: several instances on one database.
#[cfg(feature = "postgres")]
mod postgres_instances {
    engine_checks!(
        instances,
        three_instances_sell_exactly_the_stock_and_claim_each_event_once,
        a_killed_instances_claims_are_retried_after_the_lease,
        migrations_are_recorded_and_apply_once,
        killed_connections_are_busy_then_replaced,
        history_is_pruned_in_steps_and_pending_events_stay,
        a_sell_out_elsewhere_is_refused_from_memory_and_a_restock_is_learnt_at_the_poll,
        a_shared_line_that_cannot_be_read_again_is_counted_with_what_the_instance_has,
    );
}
