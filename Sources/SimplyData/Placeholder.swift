import SimplyCore
