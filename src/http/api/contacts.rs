//! Contacts (SPEC §13): `GET /api/contacts` (JSON, `?format=csv` or `?format=vcf`),
//! `GET/PUT/DELETE /api/contacts/{number}` (a contact and their whole history), and
//! `POST /api/contacts/import` (CSV: every row checked first, bad rows reported by line,
//! nothing imported unless all are good).

use super::{page_limit, typed_number, views};
use crate::db::contacts::{self, Fields};
use crate::db::orgs;
use crate::error::{codes, ApiError};
use crate::http::auth::{Auth, Writer};
use crate::http::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

/// The largest CSV one import takes (10,000 rows of number, name, notes and tags).
pub const MAX_IMPORT_BYTES: usize = 4 * 1024 * 1024;
/// The most rows one import takes.
const MAX_IMPORT_ROWS: usize = 10_000;
const MAX_NAME: usize = 120;
const MAX_NOTES: usize = 4_000;
const MAX_TAGS: usize = 20;

async fn country(state: &AppState, org: i64) -> Result<String, ApiError> {
    Ok(state.db.query(move |c| orgs::country(c, org)).await?)
}

/// A name, notes and tags as the user gave them, checked; `line` names a CSV line.
fn fields(name: &str, notes: Option<&str>, tags: &[String], at: &str) -> Result<Fields, String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME {
        return Err(format!(
            "{at}name: give a name of 1 to {MAX_NAME} characters"
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(format!(
            "{at}name: remove the line breaks and control characters"
        ));
    }
    let notes = notes.unwrap_or_default();
    if notes.chars().count() > MAX_NOTES {
        return Err(format!("{at}notes: at most {MAX_NOTES} characters"));
    }
    let mut clean: Vec<String> = Vec::new();
    for tag in tags {
        let tag = tag.trim().to_lowercase();
        if tag.is_empty() {
            continue;
        }
        if tag.chars().count() > 30 || tag.chars().any(|c| c.is_control() || c == ',' || c == ';') {
            return Err(format!(
                "{at}tags: '{tag}' is not a tag: up to 30 characters, no commas or semicolons"
            ));
        }
        if !clean.contains(&tag) {
            clean.push(tag);
        }
    }
    if clean.len() > MAX_TAGS {
        return Err(format!("{at}tags: at most {MAX_TAGS} tags"));
    }
    Ok(Fields {
        name: name.to_string(),
        notes: notes.to_string(),
        tags: clean,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    q: Option<String>,
    tag: Option<String>,
    format: Option<String>,
}

pub async fn list(
    state: web::Data<AppState>,
    auth: Auth,
    query: web::Query<ListQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let org = auth.org_id();
    let q = query.into_inner();
    let accept = req
        .headers()
        .get(actix_web::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let format = match q.format.as_deref() {
        Some(f @ ("csv" | "vcf" | "json")) => f.to_string(),
        Some(other) => {
            return Err(ApiError::new(
                codes::INVALID_QUERY,
                format!("format: '{other}' is not one of csv, vcf, json"),
            ))
        }
        None if accept.starts_with("text/csv") => "csv".into(),
        None if accept.starts_with("text/vcard") => "vcf".into(),
        None => "json".into(),
    };
    let (search, tag) = (q.q, q.tag);
    let (rows, country) = state
        .db
        .query(move |c| {
            let rows = contacts::list(c, org, search.as_deref(), tag.as_deref())?;
            Ok((rows, orgs::country(c, org)?))
        })
        .await?;
    match format.as_str() {
        "csv" => Ok(download(
            "text/csv; charset=utf-8",
            "contacts.csv",
            to_csv(&rows)?,
        )),
        "vcf" => Ok(download(
            "text/vcard; charset=utf-8",
            "contacts.vcf",
            to_vcard(&rows),
        )),
        _ => {
            let body = json!({ "contacts": rows });
            let shown = views::Shown {
                country,
                ..Default::default()
            };
            Ok(views::displayed(body, &shown))
        }
    }
}

fn download(content_type: &str, file: &str, body: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type.to_string())
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{file}\""),
        ))
        .insert_header(("Cache-Control", "private, no-store"))
        .body(body)
}

/// `number,name,notes,tags` (tags separated by `;`), RFC 4180, formulas neutralised.
fn to_csv(rows: &[contacts::Contact]) -> Result<Vec<u8>, ApiError> {
    let mut out = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let fail = |e: csv::Error| ApiError::Internal(format!("writing contacts CSV: {e}"));
    out.write_record(["number", "name", "notes", "tags"])
        .map_err(fail)?;
    for c in rows {
        let cells = [
            c.number.clone(),
            c.name.clone(),
            c.notes.clone(),
            c.tags.join(";"),
        ]
        .map(super::export::neutralised);
        out.write_record(&cells).map_err(fail)?;
    }
    out.into_inner()
        .map_err(|e| ApiError::Internal(format!("writing contacts CSV: {e}")))
}

/// vCard 4.0 (RFC 6350): one card per contact, with its number as a voice and text line.
fn to_vcard(rows: &[contacts::Contact]) -> Vec<u8> {
    // RFC 6350 §3.4: backslash, comma, semicolon and newline are escaped in values.
    let esc = |s: &str| {
        s.replace('\\', "\\\\")
            .replace(',', "\\,")
            .replace(';', "\\;")
            .replace("\r\n", "\\n")
            .replace('\n', "\\n")
    };
    let mut out = String::new();
    for c in rows {
        out.push_str("BEGIN:VCARD\r\nVERSION:4.0\r\n");
        out.push_str(&format!("FN:{}\r\n", esc(&c.name)));
        out.push_str(&format!(
            "TEL;VALUE=uri;TYPE=\"voice,text\":tel:{}\r\n",
            c.number
        ));
        if !c.notes.is_empty() {
            out.push_str(&format!("NOTE:{}\r\n", esc(&c.notes)));
        }
        if !c.tags.is_empty() {
            let tags: Vec<String> = c.tags.iter().map(|t| esc(t)).collect();
            out.push_str(&format!("CATEGORIES:{}\r\n", tags.join(",")));
        }
        out.push_str("END:VCARD\r\n");
    }
    out.into_bytes()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    before: Option<String>,
    limit: Option<u32>,
}

/// A contact (or a number nobody named yet) and everything with them, newest first.
pub async fn get(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
    query: web::Query<HistoryQuery>,
) -> Result<HttpResponse, ApiError> {
    let org = auth.org_id();
    let number = typed_number("number", &path, &country(&state, org).await?)?;
    let number = number.as_str().to_string();
    let limit = page_limit(query.limit);
    let before = query.before.clone();
    views::displayed_query(&state.db, org, move |c| {
        let contact = contacts::get(c, org, &number)?;
        let history = contacts::history(c, org, &number, before.as_deref(), limit)?;
        let next = (history.len() == limit as usize)
            .then(|| history.last().map(contacts::Entry::cursor))
            .flatten();
        Ok(json!({ "number": number, "contact": contact, "history": history, "nextBefore": next }))
    })
    .await
}

/// A contact's fields; `notes` or `tags` left out keep what the contact has.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactBody {
    name: String,
    notes: Option<String>,
    tags: Option<Vec<String>>,
}

pub async fn put(
    state: web::Data<AppState>,
    Writer(auth): Writer,
    path: web::Path<String>,
    body: web::Json<ContactBody>,
) -> Result<HttpResponse, ApiError> {
    let org = auth.org_id();
    let country = country(&state, org).await?;
    let number = typed_number("number", &path, &country)?;
    let body = body.into_inner();
    let f = fields(
        &body.name,
        body.notes.as_deref(),
        body.tags.as_deref().unwrap_or_default(),
        "",
    )
    .map_err(|e| ApiError::new(codes::INVALID_FIELD, e))?;
    let number = number.as_str().to_string();
    let (keep_notes, keep_tags) = (body.notes.is_none(), body.tags.is_none());
    let (contact, created) = state
        .db
        .query(move |c| {
            let mut f = f;
            if let Some(old) = contacts::get(c, org, &number)? {
                if keep_notes {
                    f.notes = old.notes;
                }
                if keep_tags {
                    f.tags = old.tags;
                }
            }
            contacts::put(c, org, &number, &f)
        })
        .await?;
    let body = json!({ "contact": contact });
    let shown = views::Shown {
        country,
        ..Default::default()
    };
    let mut resp = views::displayed(body, &shown);
    if created {
        resp.head_mut().status = actix_web::http::StatusCode::CREATED;
    }
    Ok(resp)
}

pub async fn delete(
    state: web::Data<AppState>,
    Writer(auth): Writer,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let org = auth.org_id();
    let number = typed_number("number", &path, &country(&state, org).await?)?;
    let n = number.as_str().to_string();
    if !state
        .db
        .query(move |c| contacts::delete(c, org, &n))
        .await?
    {
        return Err(ApiError::not_found(format!("contact {}", number.as_str())));
    }
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /api/contacts/import`: a CSV with a header row naming `number` and `name` (and,
/// if wanted, `notes` and `tags`, tags separated by `;`). Every row is checked before any
/// is written: one bad row and nothing is imported, and every bad row is named by its
/// line. A number already a contact is updated.
pub async fn import(
    state: web::Data<AppState>,
    Writer(auth): Writer,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let org = auth.org_id();
    let country = country(&state, org).await?;
    let (rows, problems) = read_import(&body, &country)?;
    if !problems.is_empty() {
        return Err(ApiError::hinted(
            codes::INVALID_ROWS,
            format!(
                "{} row(s) cannot be imported, so nothing was: {}",
                problems.len(),
                problems
                    .iter()
                    .take(20)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            "Fix those lines and import the file again.",
        ));
    }
    let count = rows.len();
    let (created, updated) = state
        .db
        .query(move |c| {
            let tx = c.transaction()?;
            let (mut created, mut updated) = (0, 0);
            for (number, f) in &rows {
                if contacts::put(&tx, org, number, f)?.1 {
                    created += 1;
                } else {
                    updated += 1;
                }
            }
            tx.commit()?;
            Ok((created, updated))
        })
        .await?;
    Ok(HttpResponse::Ok()
        .json(json!({ "imported": count, "created": created, "updated": updated })))
}

type ImportRows = Vec<(String, Fields)>;

/// The rows of an import, or what is wrong with each bad one ("line 4: number: …").
fn read_import(body: &[u8], country: &str) -> Result<(ImportRows, Vec<String>), ApiError> {
    let bad = |m: String| ApiError::new(codes::INVALID_CSV, m);
    let text = std::str::from_utf8(body)
        .map_err(|_| bad("the file is not UTF-8 text: save it as CSV UTF-8".into()))?;
    let text = text.trim_start_matches('\u{feff}');
    // Lines as a text editor or spreadsheet numbers them (the header is line 1), counted
    // from where each record starts, so a quoted field with line breaks counts right.
    let line_at = |pos: Option<&csv::Position>| {
        pos.map_or(0, |p| {
            // After a CR LF the reader's position can sit on the LF: step past line ends.
            let bytes = text.as_bytes();
            let mut upto = (p.byte() as usize).min(bytes.len());
            while upto < bytes.len() && (bytes[upto] == b'\r' || bytes[upto] == b'\n') {
                upto += 1;
            }
            bytes[..upto].iter().filter(|&&b| b == b'\n').count() + 1
        })
    };
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| bad(format!("the header row cannot be read: {e}")))?
        .iter()
        .map(|h| h.to_ascii_lowercase())
        .collect();
    let col = |names: &[&str]| headers.iter().position(|h| names.contains(&h.as_str()));
    let (Some(number_col), Some(name_col)) =
        (col(&["number", "phone", "phone number"]), col(&["name"]))
    else {
        return Err(bad(format!(
            "the first row must name the columns, with at least number and name (found: {})",
            headers.join(", ")
        )));
    };
    let (notes_col, tags_col) = (col(&["notes", "note"]), col(&["tags", "tag"]));
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    let mut seen = std::collections::HashMap::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = line_at(e.position());
                problems.push(format!("line {line}: {e}"));
                continue;
            }
        };
        let line = line_at(record.position());
        if record.iter().all(str::is_empty) {
            continue;
        }
        if rows.len() + problems.len() >= MAX_IMPORT_ROWS {
            return Err(bad(format!(
                "at most {MAX_IMPORT_ROWS} rows per import: split the file"
            )));
        }
        let at = format!("line {line}: ");
        let get = |i: Option<usize>| i.and_then(|i| record.get(i)).unwrap_or_default();
        let number = match crate::domain::typed::read(get(Some(number_col)), country) {
            Ok(n) => n.as_str().to_string(),
            Err(e) => {
                problems.push(format!("{at}number: {e}"));
                continue;
            }
        };
        let tags: Vec<String> = get(tags_col)
            .split([';', '|'])
            .map(str::to_string)
            .collect();
        let notes = notes_col.map(|i| record.get(i).unwrap_or_default());
        match fields(get(Some(name_col)), notes, &tags, &at) {
            Ok(f) => {
                if let Some(first) = seen.insert(number.clone(), line) {
                    problems.push(format!("{at}number: {number} is also on line {first}"));
                    continue;
                }
                rows.push((number, f));
            }
            Err(e) => problems.push(e),
        }
    }
    Ok((rows, problems))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_import_names_every_bad_line_and_reads_numbers_as_typed() {
        let csv = "Name,Phone,Tags\r\nJane Smith,(415) 555-0123,vip;landlord\r\n,(415) 555-0124,\r\nBob,12,\r\n\"Ann, Jr.\",+14155550125,\r\nJane again,415-555-0123,\r\n";
        let (rows, problems) = read_import(csv.as_bytes(), "US").unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].0, "+14155550123");
        assert_eq!(rows[0].1.tags, ["vip", "landlord"]);
        assert_eq!(rows[1].1.name, "Ann, Jr.");
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].starts_with("line 3: name:"), "{problems:?}");
        assert!(problems[1].starts_with("line 4: number:"), "{problems:?}");
        assert!(problems[2].contains("also on line 2"), "{problems:?}");
    }

    #[test]
    fn an_import_without_the_columns_says_which_it_needs() {
        let err = read_import(b"who,what\nx,y\n", "US").unwrap_err();
        assert!(
            err.to_string().contains("at least number and name"),
            "{err}"
        );
    }

    #[test]
    fn a_vcard_escapes_what_rfc_6350_says() {
        let c = contacts::Contact {
            id: 1,
            number: "+14155550123".into(),
            name: "Smith; Jane, Jr.".into(),
            notes: "gate code 1234\nback door".into(),
            tags: vec!["vip".into()],
            created_at: String::new(),
            updated_at: String::new(),
        };
        let card = String::from_utf8(to_vcard(&[c])).unwrap();
        assert_eq!(
            card,
            "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Smith\\; Jane\\, Jr.\r\nTEL;VALUE=uri;TYPE=\"voice,text\":tel:+14155550123\r\nNOTE:gate code 1234\\nback door\r\nCATEGORIES:vip\r\nEND:VCARD\r\n"
        );
    }
}
