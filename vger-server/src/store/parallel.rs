//! Spreading per-directory work of a large repository over the cores:
//! walking 256 pack shards is system calls on cached metadata, which
//! scale with the threads that make them.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Applies `f` to every item on up to one thread per core and returns the
/// results in the items' order; the first error wins.
pub(super) fn map_on_cores<T, R, F>(items: &[T], f: F) -> io::Result<Vec<R>>
where
    T: Sync,
    R: Send,
    F: Fn(&T) -> io::Result<R> + Sync,
{
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(items.len());
    if threads <= 1 {
        return items.iter().map(&f).collect();
    }
    let next = AtomicUsize::new(0);
    let parts: Vec<io::Result<Vec<(usize, R)>>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(i) else {
                            return Ok(done);
                        };
                        done.push((i, f(item)?));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join().unwrap_or_else(|_| {
                    Err(io::Error::other("a filesystem worker thread panicked"))
                })
            })
            .collect()
    });
    let mut all = Vec::with_capacity(items.len());
    for part in parts {
        all.extend(part?);
    }
    all.sort_unstable_by_key(|(i, _)| *i);
    Ok(all.into_iter().map(|(_, r)| r).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_the_order_of_the_items() {
        let items: Vec<u32> = (0..100).collect();
        let out = map_on_cores(&items, |&i| Ok(i * 2)).unwrap();
        assert_eq!(out, items.iter().map(|i| i * 2).collect::<Vec<_>>());
    }

    #[test]
    fn an_error_in_any_item_fails_the_whole_map() {
        let items: Vec<u32> = (0..50).collect();
        let r = map_on_cores(&items, |&i| {
            if i == 37 {
                Err(io::Error::other("bad shard"))
            } else {
                Ok(i)
            }
        });
        assert_eq!(r.unwrap_err().to_string(), "bad shard");
    }
}
