//! `malloc`, `calloc`, `realloc` and `free` for libwebp's C in wasm32, from Rust's allocator:
//! wasm32-unknown-unknown has no C library, and without these the linker would leave them as
//! imports the browser cannot supply. Each block carries its size in a header in front of it,
//! as `free` is not told the size and Rust's allocator needs it.

use std::alloc::{alloc, alloc_zeroed, dealloc, realloc as grow, Layout};

/// Bytes in front of every block: its size, and the alignment C's `malloc` promises (16).
const HEADER: usize = 16;

fn layout(size: usize) -> Option<Layout> {
    Layout::from_size_align(size.checked_add(HEADER)?, HEADER).ok()
}

/// `block` (of at least `size` + [`HEADER`] bytes, or null) with its size written in its header,
/// as the pointer C gets: past the header.
///
/// Safety: `block` is null or a block this module just allocated for `size`.
unsafe fn finish(block: *mut u8, size: usize) -> *mut u8 {
    if block.is_null() {
        return block;
    }
    // SAFETY: `block` has at least HEADER bytes, aligned for usize.
    unsafe {
        block.cast::<usize>().write(size);
        block.add(HEADER)
    }
}

// The four below are called by C under C's contracts; a pointer they are given back is one of
// theirs.

#[no_mangle]
unsafe extern "C" fn malloc(size: usize) -> *mut u8 {
    match layout(size) {
        // SAFETY: a non-zero layout.
        Some(l) => unsafe { finish(alloc(l), size) },
        None => std::ptr::null_mut(),
    }
}

#[no_mangle]
unsafe extern "C" fn calloc(count: usize, size: usize) -> *mut u8 {
    match count.checked_mul(size).and_then(|n| Some((n, layout(n)?))) {
        // SAFETY: a non-zero layout.
        Some((n, l)) => unsafe { finish(alloc_zeroed(l), n) },
        None => std::ptr::null_mut(),
    }
}

#[no_mangle]
unsafe extern "C" fn realloc(ptr: *mut u8, size: usize) -> *mut u8 {
    if ptr.is_null() {
        // SAFETY: C's contract: realloc(NULL, n) is malloc(n).
        return unsafe { malloc(size) };
    }
    // SAFETY: `ptr` came from one of these functions: its header holds its size.
    let (block, old) = unsafe {
        let block = ptr.sub(HEADER);
        (block, block.cast::<usize>().read())
    };
    match (layout(old), layout(size)) {
        // SAFETY: `block` was allocated with `old_layout`; the new size is non-zero.
        (Some(old_layout), Some(new)) => unsafe {
            finish(grow(block, old_layout, new.size()), size)
        },
        _ => std::ptr::null_mut(),
    }
}

#[no_mangle]
unsafe extern "C" fn free(ptr: *mut u8) {
    if ptr.is_null() {
        return;
    }
    // SAFETY: `ptr` came from one of these functions: its header holds its size, and the
    // layout is the one it was allocated with.
    unsafe {
        let block = ptr.sub(HEADER);
        if let Some(l) = layout(block.cast::<usize>().read()) {
            dealloc(block, l);
        }
    }
}
