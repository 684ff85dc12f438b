//! §9.3 mention parsing: which members a `text` or `edit` body mentions.
//! Run once, at append, inside the writer's transaction, against the
//! conversation's members at that moment.

/// Whether `c` can be part of a user name (`a-z 0-9 _ . -`, §3).
fn name_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-')
}

/// The members `body` mentions, sorted and without duplicates, never
/// `sender`. An `@` at the start of the body or after a character that
/// cannot be part of a user name mentions the LONGEST member name the text
/// after it starts with, when that name is followed by the end of the body,
/// a character that cannot be part of a name, `.` or `-`; otherwise (and
/// when that name is the sender's) it mentions no one: a shorter name is
/// never tried instead.
///
/// Member names are made of name characters only, so the candidates are
/// the prefixes of the run of name characters after the `@`, tried longest
/// first against `is_member`: the cost follows the text, not the size of
/// the group.
pub fn parse(body: &str, is_member: impl Fn(&str) -> bool, sender: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let mut prev: Option<char> = None;
    for (i, c) in body.char_indices() {
        if c == '@' && prev.is_none_or(|p| !name_char(p)) {
            let rest = &body[i + 1..];
            // Name characters are ASCII: every prefix ends on a boundary.
            let run = rest.find(|c: char| !name_char(c)).unwrap_or(rest.len());
            let longest = (1..=run).rev().map(|j| &rest[..j]).find(|n| is_member(n));
            if let Some(name) = longest {
                let next = rest[name.len()..].chars().next();
                let ends = next.is_none_or(|n| !name_char(n) || n == '.' || n == '-');
                if ends && name != sender && !found.iter().any(|f| f == name) {
                    found.push(name.to_owned());
                }
            }
        }
        prev = Some(c);
    }
    found.sort_unstable();
    found
}

#[cfg(test)]
mod tests {
    use super::parse;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    /// `parse` against the member list `m`.
    fn of(body: &str, m: &[String], sender: &str) -> Vec<String> {
        parse(body, |n| m.iter().any(|x| x == n), sender)
    }

    #[test]
    fn the_rules_of_section_9_3() {
        let m = names(&["alice", "bob", "bobby", "carol"]);
        let p = |body: &str| of(body, &m, "alice");
        assert_eq!(p("@bob hi"), ["bob"]);
        assert_eq!(p("@bob."), ["bob"]);
        assert_eq!(p("@bob--"), ["bob"]);
        assert_eq!(p("hi @bob, @carol!"), ["bob", "carol"]);
        assert_eq!(p("@bobby"), ["bobby"]);
        assert_eq!(p("@bobbyx"), Vec::<String>::new());
        assert_eq!(p("@bob_x"), Vec::<String>::new());
        assert_eq!(p("mail@bob"), Vec::<String>::new());
        assert_eq!(p("(@bob)"), ["bob"]);
        assert_eq!(p("@alice and @bob"), ["bob"]);
        assert_eq!(p("@carol @carol @bob"), ["bob", "carol"]);
        assert_eq!(p("@dave"), Vec::<String>::new());
        assert_eq!(p("@"), Vec::<String>::new());
        assert_eq!(p("@Bob"), Vec::<String>::new());
        assert_eq!(p("é@bob"), ["bob"]);
    }

    #[test]
    fn a_dotted_name_wins_only_when_it_is_a_member() {
        let with = names(&["bob", "bob.smith"]);
        assert_eq!(of("@bob.smith", &with, "x"), ["bob.smith"]);
        let without = names(&["bob"]);
        assert_eq!(of("@bob.smith", &without, "x"), ["bob"]);
        // The longest name is the sender's: no one, not the shorter `bob`.
        assert_eq!(of("@bob.smith", &with, "bob.smith"), Vec::<String>::new());
    }

    #[test]
    fn the_lookups_follow_the_text_not_the_group() {
        let calls = std::cell::Cell::new(0);
        let found = parse(
            "@bob.smith hi @carol",
            |n| {
                calls.set(calls.get() + 1);
                n == "bob" || n == "carol"
            },
            "x",
        );
        assert_eq!(found, ["bob", "carol"]);
        // "bob.smith" down to "bob" (7 names), then "carol" at once.
        assert_eq!(calls.get(), 8);
    }
}
