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
    state: Option<&'a crate::AuthState>,
    table: Vec<RouteInfo>,
}

/// A service's route registration, e.g. `castellan_identity::configure`.
pub type Mount = fn(&mut Routes<'_>);

impl<'a> Routes<'a> {
    /// Registers on `cfg` as routes are added.
    pub fn serving(cfg: &'a mut web::ServiceConfig, state: &'a crate::AuthState) -> Self {
        Self {
            cfg: Some(cfg),
            state: Some(state),
            table: Vec::new(),
        }
    }

    /// Registers what a service's handlers share for the life of a worker (an HTTP client
    /// pool, a resolver), built from the state; nothing when only listing routes. When it
    /// cannot be built, the failure is logged and the handlers that need it answer 500.
    pub fn shared<T: 'static, E: std::fmt::Display>(
        &mut self,
        make: impl FnOnce(&crate::AuthState) -> Result<T, E>,
    ) -> &mut Self {
        if let (Some(cfg), Some(state)) = (self.cfg.as_deref_mut(), self.state) {
            match make(state) {
                Ok(shared) => {
                    cfg.app_data(web::Data::new(shared));
                }
                Err(e) => tracing::error!(error = %e, "{} unavailable", std::any::type_name::<T>()),
            }
        }
        self
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

    pub fn put<F, Args>(&mut self, path: &'static str, handler: F) -> &mut Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.add(Method::PUT, path, web::put().to(handler))
    }

    pub fn patch<F, Args>(&mut self, path: &'static str, handler: F) -> &mut Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.add(Method::PATCH, path, web::patch().to(handler))
    }

    pub fn delete<F, Args>(&mut self, path: &'static str, handler: F) -> &mut Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.add(Method::DELETE, path, web::delete().to(handler))
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
        state: None,
        table: Vec::new(),
    };
    for mount in mounts {
        mount(&mut routes);
    }
    routes.table
}
