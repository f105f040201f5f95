enum HRCorePlaceholder {}
