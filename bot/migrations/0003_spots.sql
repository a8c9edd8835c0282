-- Vending spots and no-vending zones (issue: street vendors).
SELECT 1;
