//! `docs/security-checksheet.md` claims nothing without a test: every test it names exists
//! (a Rust test function in `server/tests/`, a unit-test module in the crate, or a browser test
//! file), and it answers every numbered item of the check sheet (1 to 54).

use std::path::Path;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

/// Every backtick-quoted span of the document.
fn code_spans(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

#[test]
fn every_named_test_exists() {
    let doc = std::fs::read_to_string(repo().join("docs/security-checksheet.md")).unwrap();
    let mut checked = 0;
    for span in code_spans(&doc) {
        if span.contains('<') {
            continue; // the notation explained, not a reference
        }
        if let Some((file, test)) = span.split_once(".rs::") {
            let path = repo().join("server/tests").join(format!("{file}.rs"));
            let source = std::fs::read_to_string(&path)
                .unwrap_or_else(|_| panic!("{span}: no file {}", path.display()));
            assert!(
                source.contains(&format!("async fn {test}()"))
                    || source.contains(&format!("fn {test}()")),
                "{span}: no test function {test} in {}",
                path.display()
            );
            checked += 1;
        } else if let Some(module) = span.strip_prefix("crate::") {
            let path = repo()
                .join("server/src")
                .join(format!("{}.rs", module.replace("::", "/")));
            let source = std::fs::read_to_string(&path)
                .unwrap_or_else(|_| panic!("{span}: no module {}", path.display()));
            assert!(source.contains("#[cfg(test)]"), "{span}: no unit tests");
            checked += 1;
        } else if span.starts_with("tests/") && !span.contains(' ') {
            assert!(
                repo().join(span).is_file(),
                "{span}: no such test file or script"
            );
            checked += 1;
        }
    }
    assert!(checked >= 60, "only {checked} test references found");
}

#[test]
fn every_check_sheet_item_is_answered() {
    let doc = std::fs::read_to_string(repo().join("docs/security-checksheet.md")).unwrap();
    let mut answered = [false; 55];
    for line in doc.lines() {
        let Some(rest) = line.strip_prefix("**") else {
            continue;
        };
        let numbers = rest.split('.').next().unwrap_or("");
        // "13–16." answers a range.
        let (from, to) = match numbers.split_once('–') {
            Some((a, b)) => (a.parse::<usize>(), b.parse::<usize>()),
            None => (numbers.parse::<usize>(), numbers.parse::<usize>()),
        };
        if let (Ok(from), Ok(to)) = (from, to) {
            for flag in answered.iter_mut().take(to.min(54) + 1).skip(from) {
                *flag = true;
            }
        }
    }
    let missing: Vec<usize> = (1..=54).filter(|n| !answered[*n]).collect();
    assert!(missing.is_empty(), "items without an answer: {missing:?}");
}
