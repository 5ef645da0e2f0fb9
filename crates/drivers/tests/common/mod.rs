//! Helpers shared by the drivers' test binaries: `every_model!`, the same
//! macro as in crates/netkit/tests/it/common (the integration tests of two
//! crates cannot share a module without `#[path]`), here handing each
//! scenario a `Model` rather than its name.

use netkit_drivers::Model;

/// Runs scenarios under every concurrency model as separate named tests
/// (ripgrep's `rgtest!` idea): one module per model, one `#[test]` per
/// scenario, calling the caller's `fn scenario(model: Model)`. A failure reads
/// `every_model::poll::leftover_input_is_offered_again`, and one model runs
/// alone with `cargo test -p netkit-drivers poll::`.
///
/// ```ignore
/// common::every_model! {
///     serves_everything,                        // under all nine models
///     max_connections: [thread, pool, fork],    // only under these
/// }
/// ```
///
/// Call it once per test module (the model modules would collide). A new
/// model is one more name in the `@all` list and one more `@test` arm.
macro_rules! every_model {
    ($($test:ident $(: [$($only:ident),* $(,)?])?),* $(,)?) => {
        $crate::common::every_model!(@all [$($test [$($($only)*)?])*]);
    };
    (@all $tests:tt) => {
        $crate::common::every_model!(@models $tests
            iterative thread pool fork select poll epoll r#async uring);
    };
    (@models $tests:tt $($model:ident)*) => {
        $($crate::common::every_model!(@module $model $tests);)*
    };
    (@module $model:ident [$($test:ident $only:tt)*]) => {
        mod $model {
            $($crate::common::every_model!(@test $model $test $only $only);)*
        }
    };
    // No list (or `$model` found in it): the test.
    (@test $model:ident $test:ident [] []) => {
        #[test]
        fn $test() {
            super::$test($crate::common::model(stringify!($model)))
        }
    };
    // A list without `$model`: no test. (Idents compare only as patterns,
    // hence one arm per model below.)
    (@test $model:ident $test:ident [] [$($only:ident)+]) => {};
    (@test iterative $test:ident [iterative $($_r:ident)*] $all:tt) => { $crate::common::every_model!(@test iterative $test [] []); };
    (@test thread $test:ident [thread $($_r:ident)*] $all:tt) => { $crate::common::every_model!(@test thread $test [] []); };
    (@test pool $test:ident [pool $($_r:ident)*] $all:tt) => { $crate::common::every_model!(@test pool $test [] []); };
    (@test fork $test:ident [fork $($_r:ident)*] $all:tt) => { $crate::common::every_model!(@test fork $test [] []); };
    (@test select $test:ident [select $($_r:ident)*] $all:tt) => { $crate::common::every_model!(@test select $test [] []); };
    (@test poll $test:ident [poll $($_r:ident)*] $all:tt) => { $crate::common::every_model!(@test poll $test [] []); };
    (@test epoll $test:ident [epoll $($_r:ident)*] $all:tt) => { $crate::common::every_model!(@test epoll $test [] []); };
    (@test r#async $test:ident [r#async $($_r:ident)*] $all:tt) => { $crate::common::every_model!(@test r#async $test [] []); };
    (@test uring $test:ident [uring $($_r:ident)*] $all:tt) => { $crate::common::every_model!(@test uring $test [] []); };
    (@test $model:ident $test:ident [$_first:ident $($rest:ident)*] $all:tt) => {
        $crate::common::every_model!(@test $model $test [$($rest)*] $all);
    };
}
pub(crate) use every_model;

/// The model a module name stands for (`r#async` is `async`).
pub fn model(module: &str) -> Model {
    module
        .trim_start_matches("r#")
        .parse()
        .expect("every_model! names only models")
}
