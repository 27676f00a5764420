//! Protocol state machines for faultline. Each module implements `sim_core::Process`, opens
//! with an essay on its algorithm and the paper it follows, and documents its bug knobs.

pub mod pingstorm;
