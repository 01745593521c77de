//! `#[syscall]`: a system call handler declared once, with typed arguments.
//!
//! ```ignore
//! #[syscall]
//! pub fn read(t: &mut Task, fd: Fd, buf: OutBuf, count: usize) -> KResult<u64> { ... }
//! ```
//!
//! keeps the function as written and adds, next to it, `pub const READ:
//! Entry`: the dispatch table's entry for the call. The entry's handler
//! decodes the six raw argument registers into the declared types, in
//! order, through `SysArg::decode` (a value no type admits is an errno
//! before the handler runs), calls the function, and turns its result into
//! the return register through `SysRet`. Its printers are the declared
//! types' `SysArg::strace`, and its return kind (a value, an address, no
//! return, a new image) is the declared result type's `SysRet::KIND`, so the
//! decoder, the dispatch and `--strace` come from one declaration and cannot
//! disagree.

use proc_macro::TokenStream;
use quote::{format_ident, quote};
use syn::{parse_macro_input, FnArg, GenericArgument, ItemFn, PathArguments, ReturnType, Type};

#[proc_macro_attribute]
pub fn syscall(attr: TokenStream, item: TokenStream) -> TokenStream {
    if !attr.is_empty() {
        return syn::Error::new(proc_macro2::Span::call_site(), "#[syscall] takes no arguments")
            .to_compile_error()
            .into();
    }
    let func = parse_macro_input!(item as ItemFn);
    match expand(&func) {
        Ok(ts) => ts.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

fn expand(func: &ItemFn) -> syn::Result<proc_macro2::TokenStream> {
    let name = &func.sig.ident;
    let vis = &func.vis;
    let entry = format_ident!("{}", name.to_string().to_uppercase());
    let mut inputs = func.sig.inputs.iter();
    // The first parameter is the calling task.
    match inputs.next() {
        Some(FnArg::Typed(_)) => {}
        _ => return Err(syn::Error::new_spanned(&func.sig, "a system call's first parameter is the task")),
    }
    let mut types = Vec::new();
    for arg in inputs {
        match arg {
            FnArg::Typed(pt) => types.push((*pt.ty).clone()),
            FnArg::Receiver(r) => return Err(syn::Error::new_spanned(r, "a system call is not a method")),
        }
    }
    if types.len() > 6 {
        return Err(syn::Error::new_spanned(&func.sig, "a system call has at most six arguments"));
    }
    let ret = result_type(&func.sig.output)?;
    let vars: Vec<_> = (0..types.len()).map(|i| format_ident!("arg{}", i)).collect();
    let idx: Vec<_> = (0..types.len()).collect();
    let doc = format!("The dispatch entry of `{name}`, generated from its declaration.");
    Ok(quote! {
        #func

        #[doc = #doc]
        #vis const #entry: crate::syscalls::args::Entry = crate::syscalls::args::Entry {
            handler: {
                fn decode_and_call(
                    t: &mut crate::kernel::Task,
                    raw: &[u64; 6],
                ) -> crate::vfs::KResult<u64> {
                    #( let #vars = <#types as crate::syscalls::args::SysArg>::decode(t, raw[#idx])?; )*
                    Ok(crate::syscalls::args::SysRet::into_raw(#name(t, #(#vars),*)?))
                }
                decode_and_call
            },
            args: &[#( <#types as crate::syscalls::args::SysArg>::strace ),*],
            ret: <#ret as crate::syscalls::args::SysRet>::KIND,
        };
    })
}

/// `T` of a declared `-> KResult<T>` (or any `-> Name<T>`).
fn result_type(out: &ReturnType) -> syn::Result<Type> {
    let ReturnType::Type(_, ty) = out else {
        return Err(syn::Error::new_spanned(out, "a system call returns KResult<T>"));
    };
    if let Type::Path(p) = &**ty {
        if let Some(seg) = p.path.segments.last() {
            if let PathArguments::AngleBracketed(ab) = &seg.arguments {
                if let Some(GenericArgument::Type(t)) = ab.args.first() {
                    return Ok(t.clone());
                }
            }
        }
    }
    Err(syn::Error::new_spanned(ty, "a system call returns KResult<T>"))
}
