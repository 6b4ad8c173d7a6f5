//! The examples in `examples/`, each run by its own test command against a fresh Castellan on
//! both backends, as an adopter would run them.

use std::path::{Path, PathBuf};
use std::process::Command;

use castellan_e2e::TestApp;

const ADMIN: &str = "admin@examples.test";

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(name)
}

/// The FastAPI example's virtualenv; `None` without Python outside CI.
fn python_env(dir: &Path) -> Option<PathBuf> {
    castellan_e2e::python_venv(
        "fastapi-venv",
        &dir.join("requirements.txt"),
        "examples/fastapi-backend",
    )
}

/// A private copy of `examples/react-tanstack` under `target/` with its npm packages (installed
/// once per lock file); `None` without Node or Chromium outside CI.
fn react_app() -> Option<PathBuf> {
    let node = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !node || !Path::new(CHROMIUM).exists() {
        assert!(
            !ci(),
            "CI needs Node and Debian's Chromium for examples/react-tanstack"
        );
        castellan_e2e::skip("node or chromium not available for examples/react-tanstack");
        return None;
    }
    let src = example("react-tanstack");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/examples");
    std::fs::create_dir_all(&root).unwrap();
    let lock = std::fs::File::create(root.join("react-tanstack.lock")).unwrap();
    lock.lock().unwrap();
    let dest = root.join("react-tanstack");
    copy_tree(&src, &dest);
    let lockfile = std::fs::read_to_string(src.join("package-lock.json")).unwrap();
    let stamp = dest.join("node_modules/.castellan-lock-stamp");
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(lockfile.as_str()) {
        let installed = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&dest)
            .status()
            .is_ok_and(|s| s.success());
        if !installed {
            assert!(!ci(), "npm ci failed for examples/react-tanstack");
            castellan_e2e::skip("npm ci failed for examples/react-tanstack");
            return None;
        }
        std::fs::write(&stamp, lockfile).unwrap();
    }
    Some(dest)
}

const CHROMIUM: &str = "/usr/bin/chromium";

/// Copies the example's sources (not its build output or packages) over `dest`.
fn copy_tree(src: &Path, dest: &Path) {
    std::fs::create_dir_all(dest).unwrap();
    for entry in std::fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "node_modules" || name.to_string_lossy().starts_with("dist") {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            copy_tree(&path, &dest.join(&name));
        } else {
            std::fs::copy(&path, dest.join(&name)).unwrap();
        }
    }
}

/// Kills the child when dropped (the static server of a test that failed half-way).
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

per_backend! {
    async fn the_react_example_works_in_a_browser(backend) {
        let Some(dir) = tokio::task::spawn_blocking(react_app).await.unwrap() else { return };
        let front_port = castellan_e2e::free_tcp_port();
        let front = format!("http://127.0.0.1:{front_port}");
        let Some(app) = TestApp::spawn_with(backend, &[("TRUSTED_ORIGINS", &front), ("RATE_LIMIT", "0")]).await else { return };
        let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../target/screenshots/examples-react-{backend:?}").to_lowercase());
        std::fs::create_dir_all(&shots).unwrap();
        let auth_url = app.auth_url.clone();
        let out_dir = format!("dist-{front_port}");
        let out = tokio::task::spawn_blocking(move || {
            let built = Command::new("npx")
                // Each test its own build: the two backends' servers have different URLs.
                .args(["vite", "build", "--logLevel", "error", "--outDir", &out_dir])
                .current_dir(&dir)
                .env("VITE_AUTH_URL", &auth_url)
                .status()
                .unwrap();
            assert!(built.success(), "vite build failed");
            let _server = Running(
                Command::new("node")
                    .args(["test/serve.mjs", &front_port.to_string(), &out_dir])
                    .current_dir(&dir)
                    .stdout(std::process::Stdio::null())
                    .spawn()
                    .unwrap(),
            );
            for _ in 0..100 {
                if std::net::TcpStream::connect(("127.0.0.1", front_port)).is_ok() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            let ran = Command::new("node")
                .arg("test/browser.mjs")
                .current_dir(&dir)
                .env("FRONTEND_URL", &front)
                .env("AUTH_URL", &auth_url)
                .env("SCREENSHOTS", &shots)
                .env("CHROMIUM", CHROMIUM)
                .output()
                .unwrap();
            let _ = std::fs::remove_dir_all(dir.join(&out_dir));
            ran
        })
        .await
        .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        println!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "the browser test failed on {backend:?}");
        assert_eq!(stdout.lines().filter(|l| l.starts_with("PASS")).count(), 4, "{stdout}");
    }

    async fn the_fastapi_example_passes_its_tests(backend) {
        let dir = example("fastapi-backend");
        let venv_dir = dir.clone();
        let Some(venv) = tokio::task::spawn_blocking(move || python_env(&venv_dir)).await.unwrap() else { return };
        let Some(app) = TestApp::spawn_with(backend, &[("ADMIN_EMAILS", ADMIN), ("RATE_LIMIT", "0")]).await else { return };
        let origin = app.origin.clone();
        let out = tokio::task::spawn_blocking(move || {
            Command::new(venv.join("bin/python"))
                .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"])
                .current_dir(&dir)
                .env("CASTELLAN_ORIGIN", origin)
                .env("CASTELLAN_ADMIN_EMAIL", ADMIN)
                .env("PYTHONDONTWRITEBYTECODE", "1")
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        println!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "pytest failed on {backend:?}");
        assert!(stdout.contains("3 passed"), "{stdout}");
    }

    async fn the_go_example_passes_its_tests(backend) {
        let go = Command::new("go").arg("version").output().is_ok_and(|o| o.status.success());
        if !go {
            assert!(!ci(), "CI needs Debian's golang-go and golang-github-lib-pq-dev for examples/go-backend");
            castellan_e2e::skip("go not installed for examples/go-backend");
            return;
        }
        let Some(app) = TestApp::spawn_with(backend, &[("RATE_LIMIT", "0")]).await else { return };
        let mut env = vec![
            ("CASTELLAN_ORIGIN", app.origin.clone()),
            ("CASTELLAN_SECRET", app.secret.clone()),
            // Offline: the one dependency is Debian's lib/pq (see go.mod).
            ("GOFLAGS", "-mod=mod".to_owned()),
            ("GOPROXY", "off".to_owned()),
        ];
        if backend == castellan_e2e::Backend::PostgresRedis {
            let url = &app.storage.database_url;
            let sep = if url.contains('?') { '&' } else { '?' };
            env.push(("DATABASE_URL", format!("{url}{sep}sslmode=disable")));
        }
        let dir = example("go-backend");
        let out = tokio::task::spawn_blocking(move || {
            Command::new("go").args(["test", "-count=1", "-v", "./..."]).current_dir(&dir).envs(env).output().unwrap()
        })
        .await
        .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        println!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "go test failed on {backend:?}");
        let passed = stdout.lines().filter(|l| l.starts_with("--- PASS")).count();
        let skipped: Vec<&str> = stdout.lines().filter(|l| l.starts_with("--- SKIP")).collect();
        let expected_skips = usize::from(backend == castellan_e2e::Backend::Sqlite);
        assert_eq!((passed + skipped.len(), skipped.len()), (5, expected_skips), "{stdout}");
    }
}
