//! Reading rows into their stored shapes, built queries and pages, on an in-memory database.

use super::*;
use crate::sqlite::tests::memory;

#[tokio::test]
async fn processed_ids_are_recorded_once() {
    let db = memory().await;
    assert!(db.write(|tx| mark_processed(tx, "e1")).await.unwrap());
    assert!(!db.write(|tx| mark_processed(tx, "e1")).await.unwrap());
}

/// A stored value of the test table `t (x INTEGER)`.
#[derive(Debug, PartialEq)]
struct X(i64);

#[derive(Deserialize)]
struct XRow {
    x: i64,
}

impl TryFrom<XRow> for X {
    type Error = StoreError;

    fn try_from(r: XRow) -> Result<Self, StoreError> {
        if r.x < 0 {
            return Err(StoreError::Other("negative".into()));
        }
        Ok(X(r.x))
    }
}

impl Stored for X {
    type Row = XRow;
}

#[tokio::test]
async fn rows_are_read_into_their_stored_shape_by_column_name_then_checked() {
    let db = memory().await;
    db.write(|tx| Ok(tx.execute_batch("INSERT INTO t VALUES (-1), (5);")?))
        .await
        .unwrap();
    let five = db
        .read(|c| first::<X>(c, "SELECT 7 AS other, x FROM t WHERE x > ?", [0]))
        .await
        .unwrap();
    assert_eq!(five, Some(X(5)));
    let err = db
        .read(|c| all::<X>(c, "SELECT x FROM t ORDER BY x", []))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Other(ref m) if m == "negative"),
        "{err:?}"
    );
    let err = db
        .read(|c| first::<X>(c, "SELECT 1 AS y", []))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("x"),
        "a missing column is named: {err}"
    );
}

#[test]
fn json_fields_read_from_text_or_from_the_structure() {
    #[derive(Deserialize)]
    struct S {
        #[serde(deserialize_with = "json_text")]
        v: Vec<i64>,
    }
    let text: S = serde_json::from_value(serde_json::json!({"v": "[1, 2]"})).unwrap();
    let value: S = serde_json::from_value(serde_json::json!({"v": [1, 2]})).unwrap();
    assert_eq!((text.v, value.v), (vec![1, 2], vec![1, 2]));
}

#[tokio::test]
async fn a_built_query_binds_its_values_in_order() {
    let db = memory().await;
    db.write(|tx| Ok(tx.execute_batch("INSERT INTO t VALUES (1), (2), (3), (4);")?))
        .await
        .unwrap();
    let mut q = Query::new("SELECT x FROM t WHERE x >= ");
    q.bind(2).push(" AND x < ").bind(4).push(" ORDER BY x");
    assert_eq!(q.sql, "SELECT x FROM t WHERE x >= ? AND x < ? ORDER BY x");
    let rows: Vec<X> = db.read(|c| q.rows(c)).await.unwrap();
    assert_eq!(rows, vec![X(2), X(3)]);
    let mut n = Query::new("SELECT COUNT(*) FROM t WHERE x > ");
    n.bind(1);
    assert_eq!(db.read(|c| n.count(c)).await.unwrap(), 3);
}

#[tokio::test]
async fn a_page_is_its_rows_and_the_total_matching() {
    let db = memory().await;
    db.write(|tx| Ok(tx.execute_batch("INSERT INTO t VALUES (1), (2), (3), (4), (5);")?))
        .await
        .unwrap();
    let mut count = Query::new("SELECT COUNT(*) FROM t WHERE x > ");
    count.bind(1);
    let mut rows = Query::new("SELECT x FROM t WHERE x > ");
    rows.bind(1)
        .push(" ORDER BY x DESC")
        .page(PageRequest { page: 2, limit: 3 });
    assert_eq!(
        rows.sql,
        "SELECT x FROM t WHERE x > ? ORDER BY x DESC LIMIT ? OFFSET ?"
    );
    let (page, total) = db.read(|c| page::<X>(c, &count, &rows)).await.unwrap();
    assert_eq!((page, total), (vec![X(2)], 4));
}

#[derive(Debug, Clone, Copy, PartialEq, strum::EnumString, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
enum Light {
    Red,
    GreenArrow,
}

/// A domain type stored as is, with a string enum kept as its spelling.
#[derive(Debug, PartialEq)]
struct Lamp {
    id: i64,
    light: Light,
}

crate::stored_as_is! {
    struct StoredLamp for Lamp {
        id: i64,
        #[serde(with = "crate::spelled::stored")]
        light: Light,
    }
}

#[tokio::test]
async fn a_shape_stored_as_is_reads_back_and_an_unknown_spelling_fails_the_read() {
    let db = memory().await;
    let lamp = Lamp {
        id: 1,
        light: Light::GreenArrow,
    };
    let spelled = serde_json::to_value(StoredLamp::from(&lamp)).unwrap();
    assert_eq!(
        spelled,
        serde_json::json!({"id": 1, "light": "green_arrow"})
    );
    let sql = "SELECT 1 AS id, 'green_arrow' AS light";
    let read = db.read(move |c| first::<Lamp>(c, sql, [])).await.unwrap();
    assert_eq!(read, Some(lamp));
    let sql = "SELECT 2 AS id, 'blue' AS light";
    let err = db.read(move |c| all::<Lamp>(c, sql, [])).await.unwrap_err();
    assert!(
        err.to_string()
            .contains(r#"stored Light is invalid: "blue""#),
        "{err}"
    );
}
