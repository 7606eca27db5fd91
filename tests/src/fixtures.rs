//! Input files for the daily flow, built in memory.

use bytes::Bytes;

pub const WEB_HEADER: &str = "ID,Type,SKU,Name,Published,In stock?,Stock,Regular price,Parent";
pub const ORDERS_HEADER: &str =
    "order_id,order_number,status,date_created,customer_name,customer_email,sku,quantity,line_total,currency";

/// The four inputs of one daily run.
#[derive(Clone)]
pub struct Inputs {
    pub web_products: String,
    pub web_orders: String,
    pub web_translations: String,
    pub comax: Vec<u8>,
}

impl Inputs {
    /// A small catalog: 10 simple products W1..W10 (stock 10, price 10.00), one variable parent
    /// with two variations, and an English translation with an empty SKU for W1.
    pub fn small() -> Self {
        let mut web = vec![WEB_HEADER.to_string()];
        let mut comax = vec!["sku,name,group,price,stock,active,sell_online".to_string()];
        for i in 1..=10 {
            web.push(format!("{i},simple,W{i},Wine {i},1,1,10,10.00,"));
            comax.push(format!("W{i},יין {i},wine,10.00,10,1,1"));
        }
        web.push("20,variable,GS,Gift set,1,1,,,".into());
        web.push("21,variation,GS-2,Gift set - 2,1,1,4,100,GS".into());
        web.push("22,variation,GS-3,Gift set - 3,1,1,2,150,GS".into());
        comax.push("GS-2,מארז 2,sets,100,4,1,1".into());
        comax.push("GS-3,מארז 3,sets,150,2,1,1".into());
        web.push("101,simple,,Wine 1 (EN),1,1,10,10.00,".into());
        Inputs {
            web_products: web.join("\n") + "\n",
            web_orders: ORDERS_HEADER.to_string() + "\n",
            web_translations: "product_id,language,original_product_id\n101,en,1\n".into(),
            comax: (comax.join("\n") + "\n").into_bytes(),
        }
    }

    pub fn with_orders(mut self, rows: &[&str]) -> Self {
        for r in rows {
            self.web_orders.push_str(r);
            self.web_orders.push('\n');
        }
        self
    }

    /// Replaces a Comax row by SKU (the whole line).
    pub fn set_comax(mut self, sku: &str, line: &str) -> Self {
        let text = String::from_utf8(self.comax).expect("utf-8 fixture");
        let lines: Vec<String> = text
            .lines()
            .map(|l| if l.split(',').next() == Some(sku) { line.to_string() } else { l.to_string() })
            .collect();
        self.comax = (lines.join("\n") + "\n").into_bytes();
        self
    }

    pub fn files(&self) -> [(&'static str, Bytes); 4] {
        [
            ("inbox/web/WebProducts.csv", Bytes::from(self.web_products.clone())),
            ("inbox/web/WebOrders.csv", Bytes::from(self.web_orders.clone())),
            ("inbox/web/WebTranslations.csv", Bytes::from(self.web_translations.clone())),
            ("inbox/comax/ComaxProducts.csv", Bytes::from(self.comax.clone())),
        ]
    }
}
