//! A browser-like client for the HTML pages: keeps cookies, follows no redirects, asks for
//! HTML, and puts the page's CSRF token into every form it posts.

use reqwest::header::{ACCEPT, COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Client, Response, redirect};
use std::collections::BTreeMap;

pub struct Browser {
    pub base: String,
    client: Client,
    pub cookies: BTreeMap<String, String>,
}

/// A page as the browser saw it.
pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub set_cookies: Vec<String>,
    pub headers: reqwest::header::HeaderMap,
    pub html: String,
}

impl Browser {
    pub fn new(base: &str) -> Browser {
        let client = Client::builder().redirect(redirect::Policy::none()).build().unwrap();
        Browser { base: base.to_owned(), client, cookies: BTreeMap::new() }
    }

    /// A browser on another client address (any of 127.0.0.0/8 reaches the loopback server).
    pub fn from_address(base: &str, ip: [u8; 4]) -> Browser {
        let client = Client::builder()
            .redirect(redirect::Policy::none())
            .local_address(std::net::IpAddr::from(ip))
            .build()
            .unwrap();
        Browser { base: base.to_owned(), client, cookies: BTreeMap::new() }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    async fn read(&mut self, resp: Response) -> Page {
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let location = headers.get(LOCATION).map(|v| v.to_str().unwrap().to_owned());
        let set_cookies: Vec<String> =
            headers.get_all(SET_COOKIE).iter().map(|v| v.to_str().unwrap().to_owned()).collect();
        for c in &set_cookies {
            let (name, rest) = c.split_once('=').unwrap();
            let value = rest.split(';').next().unwrap();
            if value.is_empty() || c.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        Page { status, location, set_cookies, headers, html: resp.text().await.unwrap() }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let resp = self
            .client
            .get(format!("{}{path}", self.base))
            .header(ACCEPT, "text/html")
            .header(COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap();
        self.read(resp).await
    }

    /// The token this browser's forms carry now: read from a page, since it is bound to the
    /// browser's CSRF cookie and its current session.
    pub async fn csrf(&mut self) -> String {
        form_token(&self.get("/sign-in").await.html)
    }

    /// Posts a form with the browser's CSRF token added.
    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let token = self.csrf().await;
        let mut fields: Vec<(&str, &str)> = form.to_vec();
        fields.push(("_csrf", &token));
        self.post_raw(path, &fields).await
    }

    /// Posts exactly these fields (no token added).
    pub async fn post_raw(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let resp = self
            .client
            .post(format!("{}{path}", self.base))
            .header(ACCEPT, "text/html")
            .header(COOKIE, self.cookie_header())
            .form(form)
            .send()
            .await
            .unwrap();
        self.read(resp).await
    }

    /// Signs in and expects to be sent on.
    pub async fn sign_in(&mut self, email: &str, password: &str) -> Page {
        let page = self.post("/sign-in", &[("email", email), ("password", password)]).await;
        assert_eq!(page.status, 303, "sign-in of {email}: {}", page.html);
        page
    }
}

/// The `_csrf` value of the first form of a page.
pub fn form_token(html: &str) -> String {
    let marker = r#"name="_csrf" value=""#;
    let start = html.find(marker).expect("a form with a CSRF token") + marker.len();
    html[start..start + html[start..].find('"').unwrap()].to_owned()
}
