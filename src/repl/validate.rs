//! When the REPL's Enter key runs the input and when it opens a new line: a statement runs once
//! it ends with `;` (outside strings and comments), a backslash command at once.

use rustyline::validate::{ValidationContext, ValidationResult, Validator};

use super::ReplHelper;
use crate::sql::is_complete;

/// Whether `input` is ready to run: empty, a backslash command, or statements ending with `;`.
pub fn is_ready(input: &str) -> bool {
    let input = input.trim();
    input.is_empty() || input.starts_with('\\') || is_complete(input)
}

impl Validator for ReplHelper {
    fn validate(&self, ctx: &mut ValidationContext<'_>) -> rustyline::Result<ValidationResult> {
        if is_ready(ctx.input()) {
            Ok(ValidationResult::Valid(None))
        } else {
            Ok(ValidationResult::Incomplete)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_wait_for_their_semicolon_and_commands_do_not() {
        assert!(is_ready(""));
        assert!(is_ready("\\d"));
        assert!(is_ready("SELECT 1;"));
        assert!(is_ready("SELECT '${x}' FROM ${t};"));
        assert!(!is_ready("SELECT 1"));
        assert!(!is_ready("SELECT ';"));
        assert!(!is_ready("SELECT 1 -- ;"));
    }
}
