//! The route table. Services register their routes here rather than on actix directly, so the
//! table can also be listed without a server: the generic hostile-input and cross-tenant tests
//! walk every mounted route from it, never from a hand-kept list.

use actix_web::http::Method;
use actix_web::{FromRequest, Handler, Responder, web};

/// One mounted route, relative to the base path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteInfo {
    pub method: Method,
    pub path: &'static str,
}

/// Collects a service's routes, registering them on actix when serving.
pub struct Routes<'a> {
    cfg: Option<&'a mut web::ServiceConfig>,
    table: Vec<RouteInfo>,
}

/// A service's route registration, e.g. `castellan_identity::configure`.
pub type Mount = fn(&mut Routes<'_>);

impl<'a> Routes<'a> {
    /// Registers on `cfg` as routes are added.
    pub fn serving(cfg: &'a mut web::ServiceConfig) -> Self {
        Self {
            cfg: Some(cfg),
            table: Vec::new(),
        }
    }

    pub fn get<F, Args>(&mut self, path: &'static str, handler: F) -> &mut Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.add(Method::GET, path, web::get().to(handler))
    }

    pub fn post<F, Args>(&mut self, path: &'static str, handler: F) -> &mut Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.add(Method::POST, path, web::post().to(handler))
    }

    fn add(&mut self, method: Method, path: &'static str, route: actix_web::Route) -> &mut Self {
        self.table.push(RouteInfo { method, path });
        if let Some(cfg) = self.cfg.as_deref_mut() {
            cfg.route(path, route);
        }
        self
    }
}

/// Every route `mounts` register, in registration order.
#[must_use]
pub fn table(mounts: &[Mount]) -> Vec<RouteInfo> {
    let mut routes = Routes {
        cfg: None,
        table: Vec::new(),
    };
    for mount in mounts {
        mount(&mut routes);
    }
    routes.table
}
