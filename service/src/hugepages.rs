//! A global allocator for the native binaries that run the pipeline (`fitbox`, the resize
//! Lambda): the system allocator, with every block of 4 MiB or more advised to the kernel as a
//! candidate for transparent huge pages (`madvise(MADV_HUGEPAGE)`, what glibc does itself with
//! its `glibc.malloc.hugetlb=1` tunable, which only the environment can set).
//!
//! A thumbnail's large buffers are written once, page by page: a progressive JPEG's DCT
//! coefficients (48 MB for a 16 MP photo), a WebP's planes. With 2 MiB pages the kernel takes up
//! to 512 times fewer page faults for them, with the same peak memory and output (the time it
//! saves is in the README, "Performance"). Where transparent huge pages are off (`never`) the
//! advice is ignored; where they are `always` the kernel does this anyway. Nothing else
//! changes: every call goes to the system allocator.

use std::alloc::{GlobalAlloc, Layout, System};

/// See the module docs. Use as `#[global_allocator] static A: HugePageAlloc = HugePageAlloc;`.
pub struct HugePageAlloc;

const HUGE_PAGE: usize = 2 << 20;
const PAGE: usize = 4096;
/// Smaller blocks are left alone: a huge page in them would mostly be memory not asked for.
const ADVISE_FROM: usize = 2 * HUGE_PAGE;

/// Advise the pages that hold `[ptr, ptr + size)`, rounded out to whole 4 KiB pages: for a block
/// glibc maps on its own that is its whole mapping, which stays one mapping (rounding in to
/// 2 MiB would split it, and glibc could then no longer grow it in place with mremap).
fn advise(ptr: *mut u8, size: usize) {
    if ptr.is_null() || size < ADVISE_FROM {
        return;
    }
    let start = ptr as usize / PAGE * PAGE;
    let end = (ptr as usize + size).next_multiple_of(PAGE);
    // SAFETY: the pages hold a block the system allocator just handed out (and perhaps the
    // edges of its neighbours); MADV_HUGEPAGE only changes how the kernel may back them, never
    // their contents. The result is a hint's and is ignored (EINVAL where the kernel has no THP).
    unsafe {
        libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
    }
}

// SAFETY: every method forwards to `System` with the same arguments and returns its result.
unsafe impl GlobalAlloc for HugePageAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc(layout) };
        advise(ptr, layout.size());
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc_zeroed(layout) };
        advise(ptr, layout.size());
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let ptr = unsafe { System.realloc(ptr, layout, new_size) };
        advise(ptr, new_size);
        ptr
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The allocator hands out working memory of every size; a large block really is advised
    /// (the kernel lists its mapping as `hg`, huge page advised, in /proc/self/smaps), and its
    /// mapping is not split by the advice (one mapping holds the whole block, so glibc can grow
    /// it in place).
    #[test]
    fn blocks_work_and_large_ones_are_advised() {
        let a = HugePageAlloc;
        for size in [
            1,
            4096,
            ADVISE_FROM - 1,
            ADVISE_FROM,
            3 * ADVISE_FROM + 12345,
        ] {
            let layout = Layout::from_size_align(size, 16).unwrap();
            unsafe {
                let p = a.alloc_zeroed(layout);
                assert!(!p.is_null());
                let block = std::slice::from_raw_parts_mut(p, size);
                assert!(block.iter().all(|&b| b == 0));
                block.fill(7);
                // (A kernel built without transparent huge pages has no such flag to show.)
                if size >= ADVISE_FROM && thp_built() {
                    let (range, hg) = mapping(p as usize).expect("mapped");
                    assert!(hg, "{size}-byte block not advised");
                    let whole = p as usize..p as usize + size;
                    assert!(
                        range.start <= whole.start && whole.end <= range.end,
                        "{size}-byte block {whole:x?} split: mapping {range:x?}"
                    );
                }
                let q = a.realloc(p, layout, size * 2);
                assert!(!q.is_null());
                let grown = std::slice::from_raw_parts(q, size);
                assert!(grown.iter().all(|&b| b == 7));
                if size >= ADVISE_FROM && thp_built() {
                    let (_, hg) = mapping(q as usize).expect("mapped");
                    assert!(hg, "{size}-byte block not advised after growing");
                }
                a.dealloc(q, Layout::from_size_align(size * 2, 16).unwrap());
            }
        }
    }

    fn thp_built() -> bool {
        std::path::Path::new("/sys/kernel/mm/transparent_hugepage/enabled").exists()
    }

    /// The mapping holding `addr`, and whether it carries the `hg` flag.
    fn mapping(addr: usize) -> Option<(std::ops::Range<usize>, bool)> {
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let mut inside = None;
        for line in smaps.lines() {
            if let Some((range, _)) = line.split_once(' ').filter(|(r, _)| r.contains('-')) {
                let (lo, hi) = range.split_once('-').unwrap();
                let (lo, hi) = (
                    usize::from_str_radix(lo, 16).unwrap_or(0),
                    usize::from_str_radix(hi, 16).unwrap_or(0),
                );
                inside = (lo..hi).contains(&addr).then_some(lo..hi);
            } else if let (Some(range), true) = (&inside, line.starts_with("VmFlags:")) {
                return Some((range.clone(), line.split_whitespace().any(|f| f == "hg")));
            }
        }
        None
    }
}
