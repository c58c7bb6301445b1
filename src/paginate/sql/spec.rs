//! The sort specification and the keyset SQL generated from it.
//!
//! A page is `SELECT <columns>, <key columns> FROM <table> WHERE (<filter>)
//! AND (<keyset predicate>) ORDER BY <key> LIMIT <limit + 1>`. Identifiers
//! are validated and double-quoted; every value (filter parameters, the
//! cursor's key, the limit) is a numbered driver parameter, never text in
//! the statement.
use super::value::{Position, SqlValue};
use crate::paginate::error::Error;
use crate::paginate::query::Order;
use std::fmt::Write;

/// Where `NULL` sorts in a nullable key column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Nulls {
    /// `NULL` sorts after every value: last ascending, first descending.
    /// PostgreSQL's default order, so a plain PostgreSQL index serves it.
    #[default]
    Largest,
    /// `NULL` sorts before every value: first ascending, last descending.
    /// SQLite's (and MySQL's) default order, so a plain SQLite index
    /// serves it.
    Smallest,
}

/// The SQL flavour a statement is written for (its placeholders).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// SQLite: `?1`, `?2`, ...
    Sqlite,
    /// PostgreSQL: `$1`, `$2`, ...
    Postgres,
}

/// One column of the sort key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct KeyColumn {
    pub(crate) name: String,
    pub(crate) order: Order,
    pub(crate) nullable: bool,
}

/// A validated keyset: what is read, from where, in which order.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Spec {
    pub(crate) table: String,
    /// The caller's select list, quoted; empty means `*`.
    pub(crate) columns: Vec<String>,
    pub(crate) key: Vec<KeyColumn>,
    pub(crate) nulls: Nulls,
    pub(crate) filter: Option<(String, Vec<SqlValue>)>,
}

/// Checks an identifier (optionally `schema.name`) and returns it quoted.
///
/// Only ASCII letters, digits, `_` and `$`, not starting with a digit or
/// `$`: enough for every name a schema should use, and nothing a quote can
/// break out of.
pub(crate) fn quote_ident(name: &str) -> Result<String, Error> {
    let bad = || Error::InvalidIdentifier {
        name: name.chars().take(64).collect(),
    };
    let mut quoted = String::with_capacity(name.len() + 4);
    for (i, part) in name.split('.').enumerate() {
        let mut chars = part.chars();
        let first_ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
        if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$') {
            return Err(bad());
        }
        if i > 1 {
            return Err(bad());
        }
        if i == 1 {
            quoted.push('.');
        }
        quoted.push('"');
        quoted.push_str(part);
        quoted.push('"');
    }
    Ok(quoted)
}

impl Spec {
    /// The text a cursor is bound to: table, columns, key, null rule and
    /// filter (its SQL and its parameter values). A token is refused for
    /// any other.
    pub(crate) fn binding(&self) -> String {
        let mut s = String::from("sql-keyset/1;table=");
        s.push_str(&self.table);
        s.push_str(";columns=");
        s.push_str(&self.columns.join(","));
        s.push_str(";key=");
        for k in &self.key {
            let dir = if k.order == Order::Ascending {
                "asc"
            } else {
                "desc"
            };
            let null = if k.nullable { " null" } else { "" };
            let _ = write!(s, "{} {dir}{null},", k.name);
        }
        let _ = write!(s, ";nulls={:?}", self.nulls);
        if let Some((sql, params)) = &self.filter {
            s.push_str(";filter=");
            s.push_str(sql);
            s.push_str(";params=");
            let mut bytes = Vec::new();
            for p in params {
                p.encode(&mut bytes);
            }
            for b in bytes {
                let _ = write!(s, "{b:02x}");
            }
        }
        s
    }

    /// The statement and its parameters for the page after (or before)
    /// `at`, reading `fetch` rows.
    pub(crate) fn statement(
        &self,
        dialect: Dialect,
        at: Option<&Position>,
        fetch: usize,
    ) -> (String, Vec<SqlValue>) {
        let backward = at.is_some_and(|p| p.backward);
        let mut params: Vec<SqlValue> = Vec::new();
        let mut conds: Vec<String> = Vec::new();
        if let Some((filter, values)) = &self.filter {
            conds.push(format!("({filter})"));
            params.extend(values.iter().cloned());
        }
        let split = at.is_some_and(|p| self.splits(&p.key, backward));
        if let Some(at) = at {
            conds.push(self.predicate(dialect, &at.key, backward, &mut params));
        }
        params.push(SqlValue::Int(i64::try_from(fetch).unwrap_or(i64::MAX)));
        let limit = placeholder(dialect, params.len());
        if !split {
            return (self.select(&conds, backward, false, &limit), params);
        }
        // The first column is nullable, the cursor's value is not NULL and
        // NULLs follow it: "after" is "greater, or NULL", an OR no index
        // range expresses. Two ranges instead, each an index seek, and a
        // sort of at most 2 * fetch rows to join them.
        let non_null = self.select(&conds, backward, true, &limit);
        conds.pop();
        conds.push(format!("{} IS NULL", self.key[0].name));
        let nulls = self.select(&conds, backward, true, &limit);
        let outer: Vec<String> = (0..self.key.len())
            .map(|i| format!("\"lw_k{i}\""))
            .collect();
        let sql = format!(
            "SELECT * FROM ({non_null}) AS lw_before_nulls UNION ALL SELECT * FROM ({nulls}) AS lw_nulls \
             ORDER BY {} LIMIT {limit}",
            self.order_by(&outer, backward)
        );
        (sql, params)
    }

    /// `SELECT <columns>, <key> FROM <table> [WHERE ...] ORDER BY <key>
    /// LIMIT <limit>`, the key columns aliased `lw_k0..` when `alias`.
    fn select(&self, conds: &[String], backward: bool, alias: bool, limit: &str) -> String {
        let mut sql = String::with_capacity(256);
        sql.push_str("SELECT ");
        if self.columns.is_empty() {
            sql.push('*');
        } else {
            sql.push_str(&self.columns.join(", "));
        }
        for (i, k) in self.key.iter().enumerate() {
            sql.push_str(", ");
            sql.push_str(&k.name);
            if alias {
                let _ = write!(sql, " AS \"lw_k{i}\"");
            }
        }
        sql.push_str(" FROM ");
        sql.push_str(&self.table);
        if !conds.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&conds.join(" AND "));
        }
        let names: Vec<String> = self.key.iter().map(|k| k.name.clone()).collect();
        let _ = write!(
            sql,
            " ORDER BY {} LIMIT {limit}",
            self.order_by(&names, backward)
        );
        sql
    }

    /// The key's `ORDER BY` terms over `names` (the key columns or their
    /// aliases), in the read direction, with the `NULL` rule spelled out.
    fn order_by(&self, names: &[String], backward: bool) -> String {
        let mut sql = String::new();
        for (i, (k, name)) in self.key.iter().zip(names).enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            let order = effective(k.order, backward);
            sql.push_str(name);
            sql.push_str(if order == Order::Ascending {
                " ASC"
            } else {
                " DESC"
            });
            if k.nullable {
                let last = self.nulls_last(order);
                sql.push_str(if last { " NULLS LAST" } else { " NULLS FIRST" });
            }
        }
        sql
    }

    /// Whether the page after `key` is read as two ranges (see
    /// [`statement`](Self::statement)).
    fn splits(&self, key: &[SqlValue], backward: bool) -> bool {
        let first = &self.key[0];
        first.nullable
            && !key.first().is_none_or(SqlValue::is_null)
            && self.nulls_last(effective(first.order, backward))
    }

    /// Whether `NULL` comes last when a column is read in `order`.
    fn nulls_last(&self, order: Order) -> bool {
        (self.nulls == Nulls::Largest) == (order == Order::Ascending)
    }

    /// The condition "strictly after `key` in the read order": a row-value
    /// comparison when every column is read in one direction and none is
    /// nullable, else the expanded form `a > ?1 OR (a = ?1 AND b > ?2) ...`
    /// led by a bound on the first column that an index range can use.
    /// Non-`NULL` key values are pushed to `params`; `NULL` ones are
    /// written as `IS NULL` tests, never bound.
    fn predicate(
        &self,
        dialect: Dialect,
        key: &[SqlValue],
        backward: bool,
        params: &mut Vec<SqlValue>,
    ) -> String {
        let mut slots = Vec::with_capacity(key.len());
        for v in key {
            if v.is_null() {
                slots.push(None);
            } else {
                params.push(v.clone());
                slots.push(Some(placeholder(dialect, params.len())));
            }
        }
        let orders: Vec<Order> = self
            .key
            .iter()
            .map(|k| effective(k.order, backward))
            .collect();
        // When split, this is the non-NULL range: column 0's NULLs are read
        // by the other statement.
        let split = self.splits(key, backward);
        let uniform = orders.iter().all(|&o| o == orders[0]);
        if uniform && self.key.iter().all(|k| !k.nullable) {
            let op = if orders[0] == Order::Ascending {
                ">"
            } else {
                "<"
            };
            let slots: Vec<&str> = slots
                .iter()
                .map(|s| s.as_deref().unwrap_or("NULL"))
                .collect();
            if self.key.len() == 1 {
                return format!("{} {op} {}", self.key[0].name, slots[0]);
            }
            let cols: Vec<&str> = self.key.iter().map(|k| k.name.as_str()).collect();
            return format!("({}) {op} ({})", cols.join(", "), slots.join(", "));
        }
        let mut terms: Vec<String> = Vec::new();
        for i in 0..self.key.len() {
            let Some(after) = self.after(i, slots[i].as_deref(), orders[i], split && i == 0) else {
                continue; // nothing sorts after NULL here
            };
            let mut parts: Vec<String> = (0..i)
                .map(|j| match &slots[j] {
                    Some(p) => format!("{} = {p}", self.key[j].name),
                    None => format!("{} IS NULL", self.key[j].name),
                })
                .collect();
            parts.push(after);
            terms.push(parts.join(" AND "));
        }
        let expanded = match terms.len() {
            0 => "1 = 0".to_owned(),
            1 => terms.pop().unwrap_or_default(),
            _ => terms
                .iter()
                .map(|t| format!("({t})"))
                .collect::<Vec<_>>()
                .join(" OR "),
        };
        // A redundant leading bound on the first column gives the planner
        // an index range to start from. It must admit every row after the
        // key, so it is left out where that needs an OR (a non-NULL value
        // with NULLs coming after it).
        let first = &self.key[0];
        let nulls_last = self.nulls_last(orders[0]);
        match &slots[0] {
            Some(p) if !first.nullable || !nulls_last || split => {
                let op = if orders[0] == Order::Ascending {
                    ">="
                } else {
                    "<="
                };
                format!("{} {op} {p} AND ({expanded})", first.name)
            }
            None if nulls_last => format!("{} IS NULL AND ({expanded})", first.name),
            _ => format!("({expanded})"),
        }
    }

    /// "Column `i` strictly after its cursor value" in `order`, or `None`
    /// when nothing can follow (the value is `NULL` and `NULL`s come last).
    /// With `skip_nulls` the column's NULLs are left to another range.
    fn after(
        &self,
        i: usize,
        slot: Option<&str>,
        order: Order,
        skip_nulls: bool,
    ) -> Option<String> {
        let k = &self.key[i];
        let nulls_last = self.nulls_last(order);
        match slot {
            None if nulls_last => None,
            None => Some(format!("{} IS NOT NULL", k.name)),
            Some(p) => {
                let op = if order == Order::Ascending { ">" } else { "<" };
                if k.nullable && nulls_last && !skip_nulls {
                    Some(format!("({} {op} {p} OR {} IS NULL)", k.name, k.name))
                } else {
                    Some(format!("{} {op} {p}", k.name))
                }
            }
        }
    }
}

fn effective(order: Order, backward: bool) -> Order {
    match (order, backward) {
        (o, false) => o,
        (Order::Ascending, true) => Order::Descending,
        (Order::Descending, true) => Order::Ascending,
    }
}

fn placeholder(dialect: Dialect, n: usize) -> String {
    match dialect {
        Dialect::Sqlite => format!("?{n}"),
        Dialect::Postgres => format!("${n}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(key: Vec<KeyColumn>) -> Spec {
        Spec {
            table: quote_ident("t").unwrap(),
            columns: vec![],
            key,
            nulls: Nulls::Largest,
            filter: None,
        }
    }

    fn col(name: &str, order: Order, nullable: bool) -> KeyColumn {
        KeyColumn {
            name: quote_ident(name).unwrap(),
            order,
            nullable,
        }
    }

    #[test]
    fn identifiers_are_checked_and_quoted() {
        assert_eq!(quote_ident("s.t_1").unwrap(), "\"s\".\"t_1\"");
        for bad in ["", "1a", "a b", "a\"b", "a;b", "a.b.c", "a.", "$x", "é"] {
            assert!(quote_ident(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn one_direction_uses_a_row_value() {
        let s = spec(vec![
            col("at", Order::Descending, false),
            col("id", Order::Descending, false),
        ]);
        let at = Position {
            backward: false,
            key: vec![SqlValue::Int(5), SqlValue::Int(7)],
        };
        let (sql, params) = s.statement(Dialect::Postgres, Some(&at), 11);
        assert_eq!(
            sql,
            "SELECT *, \"at\", \"id\" FROM \"t\" WHERE (\"at\", \"id\") < ($1, $2) \
             ORDER BY \"at\" DESC, \"id\" DESC LIMIT $3"
        );
        assert_eq!(
            params,
            [SqlValue::Int(5), SqlValue::Int(7), SqlValue::Int(11)]
        );
    }

    #[test]
    fn mixed_directions_expand_and_backward_flips() {
        let s = spec(vec![
            col("at", Order::Descending, false),
            col("id", Order::Ascending, false),
        ]);
        let at = Position {
            backward: true,
            key: vec![SqlValue::Int(5), SqlValue::Int(7)],
        };
        let (sql, _) = s.statement(Dialect::Sqlite, Some(&at), 3);
        assert_eq!(
            sql,
            "SELECT *, \"at\", \"id\" FROM \"t\" WHERE \"at\" >= ?1 AND \
             ((\"at\" > ?1) OR (\"at\" = ?1 AND \"id\" < ?2)) \
             ORDER BY \"at\" ASC, \"id\" DESC LIMIT ?3"
        );
    }

    #[test]
    fn null_cursor_values_are_tests_not_parameters() {
        let s = spec(vec![
            col("score", Order::Ascending, true),
            col("id", Order::Ascending, false),
        ]);
        let at = Position {
            backward: false,
            key: vec![SqlValue::Null, SqlValue::Int(7)],
        };
        let (sql, params) = s.statement(Dialect::Postgres, Some(&at), 3);
        // NULLs largest, ascending: after a NULL score only NULL scores follow.
        assert!(
            sql.contains("WHERE \"score\" IS NULL AND (\"score\" IS NULL AND \"id\" > $1) ORDER"),
            "{sql}"
        );
        assert!(sql.contains("\"score\" ASC NULLS LAST"), "{sql}");
        assert_eq!(params, [SqlValue::Int(7), SqlValue::Int(3)]);
    }

    #[test]
    fn nulls_after_a_value_are_a_second_range() {
        let s = spec(vec![
            col("score", Order::Ascending, true),
            col("id", Order::Ascending, false),
        ]);
        let at = Position {
            backward: false,
            key: vec![SqlValue::Int(4), SqlValue::Int(7)],
        };
        let (sql, params) = s.statement(Dialect::Sqlite, Some(&at), 3);
        assert_eq!(
            sql,
            "SELECT * FROM (SELECT *, \"score\" AS \"lw_k0\", \"id\" AS \"lw_k1\" FROM \"t\" \
             WHERE \"score\" >= ?1 AND ((\"score\" > ?1) OR (\"score\" = ?1 AND \"id\" > ?2)) \
             ORDER BY \"score\" ASC NULLS LAST, \"id\" ASC LIMIT ?3) AS lw_before_nulls \
             UNION ALL SELECT * FROM (SELECT *, \"score\" AS \"lw_k0\", \"id\" AS \"lw_k1\" \
             FROM \"t\" WHERE \"score\" IS NULL ORDER BY \"score\" ASC NULLS LAST, \"id\" ASC \
             LIMIT ?3) AS lw_nulls ORDER BY \"lw_k0\" ASC NULLS LAST, \"lw_k1\" ASC LIMIT ?3"
        );
        assert_eq!(
            params,
            [SqlValue::Int(4), SqlValue::Int(7), SqlValue::Int(3)]
        );
        // Backward, the NULLs come first: one range again.
        let back = Position {
            backward: true,
            ..at
        };
        assert!(!s
            .statement(Dialect::Sqlite, Some(&back), 3)
            .0
            .contains("UNION"));
    }
}
