//! `mqless template`'s tests: the template derived from functions' manifests.

use super::*;

fn function(bin: &str, actor_type: Option<&str>, sends_to: &[&str], asks: bool) -> Function {
    Function {
        bin: bin.into(),
        code_uri: format!("target/lambda/{bin}/"),
        manifest: Manifest {
            mqless_manifest: 1,
            actor_type: actor_type.map(Into::into),
            sends_to: actor_type.map(|_| sends_to.iter().map(|t| (*t).to_owned()).collect()),
            asks_with_reply_to: asks,
            emits_to: None,
            sweeper: actor_type.is_none(),
            events: false,
            subscribes_to: Vec::new(),
        },
    }
}

fn saga() -> Vec<Function> {
    vec![
        function(
            "order-function",
            Some("Order"),
            &["Order", "Warehouse", "Wallet"],
            true,
        ),
        function("warehouse-function", Some("Warehouse"), &[], false),
        function("wallet-function", Some("Wallet"), &[], false),
        function("sweeper-function", None, &[], false),
    ]
}

pub(super) fn args() -> TemplateArgs {
    TemplateArgs {
        functions: "target/lambda".into(),
        out: None,
        arch: crate::Arch::Arm64,
        event_buses: Vec::new(),
        key_layout: Some(mqless_runtime::aws::KeyLayout::V1),
        clients: Vec::new(),
    }
}

/// The statements of `logical`'s inline policy, by `Sid`.
fn statement(template: &Json, logical: &str, sid: &str) -> Json {
    let statements = &template["Resources"][logical]["Properties"]["Policies"][0]["Statement"];
    statements
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == sid)
        .cloned()
        .unwrap_or(Json::Null)
}

#[test]
fn each_function_may_write_its_own_actors_and_the_mailboxes_it_sends_or_replies_to() {
    let template = template(&saga(), &args()).unwrap();
    let own = statement(&template, "OrderFunction", "OwnActors");
    assert_eq!(
        own["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"],
        json!(["Order/*"])
    );
    let sends = statement(&template, "OrderFunction", "MailboxesItSendsTo");
    assert_eq!(sends["Action"], "dynamodb:PutItem");
    assert_eq!(
        sends["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"],
        json!(["Wallet/*", "Warehouse/*"])
    );
    assert_eq!(
        sends["Condition"]["ForAllValues:StringEquals"]["dynamodb:Attributes"],
        json!(["pk", "sk", "env", "dsh", "dk"])
    );
    // A failed wake-up marks the recipient: its due-index attributes, nothing else.
    let marks = statement(&template, "OrderFunction", "MarkUnwoken");
    assert_eq!(marks["Action"], "dynamodb:UpdateItem");
    assert_eq!(
        marks["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"],
        json!(["Wallet/*", "Warehouse/*"])
    );
    assert_eq!(
        marks["Condition"]["ForAllValues:StringEquals"]["dynamodb:Attributes"],
        json!(["pk", "sk", "dsh", "dk"])
    );
    // Warehouse sends nothing, but answers Order's reply_to asks.
    let replies = statement(&template, "WarehouseFunction", "MailboxesItSendsTo");
    assert_eq!(
        replies["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"],
        json!(["Order/*"])
    );
    let wakes = statement(&template, "WarehouseFunction", "WakeActors")["Resource"].to_string();
    assert!(
        wakes.contains("-warehouse-function") && wakes.contains("-order-function"),
        "{wakes}"
    );
    assert!(!wakes.contains("-wallet-function"), "{wakes}");
    // Order asks Wallet with reply_to too.
    assert_eq!(
        statement(&template, "WalletFunction", "MailboxesItSendsTo")["Condition"]
            ["ForAllValues:StringLike"]["dynamodb:LeadingKeys"],
        json!(["Order/*"])
    );
}

/// Key layout v2: senders get the mailboxes' partitions (`m/Type/*`), a function its own
/// as well and its clients' reply partitions (`r/Type/*`), and every function and the
/// outputs carry the layout.
#[test]
fn key_layout_v2_grants_mailbox_partitions_and_tells_every_process() {
    let template = template_of_layout(mqless_runtime::aws::KeyLayout::V2);
    let own = statement(&template, "OrderFunction", "OwnActors");
    assert_eq!(
        own["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"],
        json!(["Order/*", "m/Order/*", "r/Order/*"])
    );
    let sends = statement(&template, "OrderFunction", "MailboxesItSendsTo");
    assert_eq!(
        sends["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"],
        json!(["m/Wallet/*", "m/Warehouse/*"])
    );
    for function in ["OrderFunction", "WarehouseFunction", "SweeperFunction"] {
        let variables = &template["Resources"][function]["Properties"]["Environment"]["Variables"];
        assert_eq!(variables["MQLESS_KEY_LAYOUT"], "v2", "{function}");
    }
    assert_eq!(template["Outputs"]["KeyLayout"]["Value"], "v2");
    let default = template_of_layout(mqless_runtime::aws::KeyLayout::V1);
    assert_eq!(default["Outputs"]["KeyLayout"]["Value"], "v1");
}

fn template_of_layout(layout: mqless_runtime::aws::KeyLayout) -> Json {
    let mut arguments = args();
    arguments.key_layout = Some(layout);
    template(&saga(), &arguments).unwrap()
}

#[test]
fn an_actor_that_only_tells_gives_no_write_access_back() {
    let mut functions = saga();
    functions[0].manifest.asks_with_reply_to = false;
    let template = template(&functions, &args()).unwrap();
    assert_eq!(
        statement(&template, "WarehouseFunction", "MailboxesItSendsTo"),
        Json::Null
    );
    let wakes = statement(&template, "WarehouseFunction", "WakeActors")["Resource"].to_string();
    assert!(!wakes.contains("-order-function"), "{wakes}");
}

#[test]
fn the_sweeper_is_scheduled_and_every_function_knows_every_other() {
    let template = template(&saga(), &args()).unwrap();
    let sweeper = &template["Resources"]["SweeperFunction"]["Properties"];
    assert_eq!(
        sweeper["Events"]["Sweep"]["Properties"]["Schedule"],
        json!({"Ref": "SweepSchedule"})
    );
    assert_eq!(
        statement(&template, "SweeperFunction", "ReadDueIndex")["Action"],
        "dynamodb:Query"
    );
    assert_eq!(
        statement(&template, "SweeperFunction", "Audit")["Action"],
        "dynamodb:Scan"
    );
    assert_eq!(
        sweeper["Events"]["Sweep"]["Properties"]["Input"],
        json!({"Fn::Sub": "{\"every_ms\": ${SweepEveryMs}}"})
    );
    assert_eq!(
        sweeper["Events"]["Audit"]["Properties"]["Input"],
        json!("{\"audit\": true}")
    );
    let functions = template["Resources"]["OrderFunction"]["Properties"]["Environment"]
        ["Variables"]["MQLESS_FUNCTIONS"]["Fn::Sub"]
        .as_str()
        .unwrap();
    assert_eq!(
        functions,
        "Order=${AWS::StackName}-order-function,Warehouse=${AWS::StackName}-warehouse-function,Wallet=${AWS::StackName}-wallet-function"
    );
    assert_eq!(
        template["Globals"]["Function"]["Architectures"],
        json!(["arm64"])
    );
    assert_eq!(
        template["Resources"]["Table"]["Properties"]["GlobalSecondaryIndexes"][0]["IndexName"],
        "actors"
    );
}

#[test]
fn a_send_to_a_type_without_a_function_is_an_error_naming_it() {
    let functions = vec![function(
        "order-function",
        Some("Order"),
        &["Billing"],
        false,
    )];
    let error = template(&functions, &args()).unwrap_err();
    assert!(
        error.contains("`Order` sends to `Billing`") && error.contains("build its function"),
        "{error}"
    );
    let error = template(&[function("sweeper-function", None, &[], false)], &args()).unwrap_err();
    assert!(error.contains("no actor function"), "{error}");
}

/// In v2 a topic reads the subscriptions of the types its events function lists: a
/// per-actor subscriber it leaves out is an error naming the fix; in v1 it is not read
/// by type, and the template is made.
#[test]
fn a_per_actor_subscriber_the_events_function_does_not_list_is_refused_in_v2() {
    let mut events = function("events-function", Some("mqless-topic"), &[], false);
    events.manifest.events = true;
    let mut watcher = function("watcher-function", Some("Watcher"), &[], false);
    watcher.manifest.subscribes_to = vec!["orders".into()];
    let functions = vec![watcher, events];
    let mut arguments = args();
    arguments.key_layout = Some(mqless_runtime::aws::KeyLayout::V2);
    let error = template(&functions, &arguments).unwrap_err();
    assert!(
        error.contains("`Watcher` subscribes to `orders`") && error.contains(".with::<Watcher>()"),
        "{error}"
    );
    arguments.key_layout = Some(mqless_runtime::aws::KeyLayout::V1);
    template(&functions, &arguments).unwrap();
}

/// A publishing actor, a subscriber, and the events function that runs the topics.
#[test]
fn the_events_function_gets_a_queue_and_the_topics_and_publishers_reach_it() {
    let mut events = function("events-function", Some("mqless-topic"), &["Mailer"], false);
    events.manifest.events = true;
    let functions = vec![
        // The desk publishes, and asks other types with reply_to.
        function(
            "desk-function",
            Some("OrderDesk"),
            &["mqless-topic", "Mailer"],
            true,
        ),
        function("mailer-function", Some("Mailer"), &[], false),
        events,
        function("sweeper-function", None, &[], false),
    ];
    let template = template(&functions, &args()).unwrap();
    let source = &template["Resources"]["EventsFunction"]["Properties"]["Events"]["Queue"];
    assert_eq!(source["Type"], "SQS");
    assert_eq!(
        source["Properties"]["FunctionResponseTypes"],
        json!(["ReportBatchItemFailures"])
    );
    let queue = &template["Resources"]["EventsQueue"]["Properties"];
    assert_eq!(queue["RedrivePolicy"]["maxReceiveCount"], 5);
    let own = statement(&template, "EventsFunction", "OwnActors");
    assert_eq!(
        own["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"],
        json!(["mqless-topic/*"])
    );
    let delivers = statement(&template, "EventsFunction", "MailboxesItSendsTo");
    assert_eq!(
        delivers["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"],
        json!(["Mailer/*"])
    );
    let publishes = statement(&template, "DeskFunction", "MailboxesItSendsTo");
    assert_eq!(
        publishes["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"],
        json!(["Mailer/*", "mqless-topic/*"])
    );
    // Exactly what the code needs: the mailer answers the desk's asks; the topics,
    // which answer none, are not let into the desk's mailbox.
    let answers = statement(&template, "MailerFunction", "MailboxesItSendsTo");
    assert_eq!(
        answers["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"],
        json!(["OrderDesk/*"])
    );
    let functions = template["Resources"]["DeskFunction"]["Properties"]["Environment"]["Variables"]
        ["MQLESS_FUNCTIONS"]["Fn::Sub"]
        .as_str()
        .unwrap();
    assert!(
        functions.contains("mqless-topic=${AWS::StackName}-events-function"),
        "{functions}"
    );
    assert!(template["Outputs"]["EventsQueueUrl"].is_object());
    assert!(template["Parameters"]["EventsTopic"].is_object());
}

/// Streams and a queue into the events function: a mapping per kind, made only when its
/// ARN is given, reporting failed records, with the role reading just that source.
#[test]
fn the_events_function_takes_streams_and_queues_whose_arns_are_given() {
    let mut events = function("events-function", Some("mqless-topic"), &[], false);
    events.manifest.events = true;
    let functions = vec![
        function("desk-function", Some("OrderDesk"), &["mqless-topic"], false),
        events,
    ];
    let template = template(&functions, &args()).unwrap();
    let mapping = &template["Resources"]["EventsKinesisMapping"];
    assert_eq!(mapping["Condition"], "HasEventsKinesisStream");
    assert_eq!(
        template["Conditions"]["HasEventsKinesisStream"],
        json!({"Fn::Not": [{"Fn::Equals": [{"Ref": "EventsKinesisStreamArn"}, ""]}]})
    );
    let properties = &mapping["Properties"];
    assert_eq!(properties["FunctionName"], json!({"Ref": "EventsFunction"}));
    assert_eq!(
        properties["FunctionResponseTypes"],
        json!(["ReportBatchItemFailures"])
    );
    assert_eq!(properties["BisectBatchOnFunctionError"], true);
    assert!(
        properties["BatchSize"].as_u64().unwrap() <= 128,
        "within the dedupe window"
    );
    assert!(template["Resources"]["EventsDynamoDbMapping"].is_object());
    assert_eq!(
        template["Parameters"]["EventsDynamoDbStreamArn"]["Default"],
        ""
    );
    let policies = template["Resources"]["EventsFunction"]["Properties"]["Policies"]
        .as_array()
        .unwrap()
        .clone();
    let reads_kinesis = policies.iter().any(|p| {
        p["Fn::If"][0] == "HasEventsKinesisStream"
            && p["Fn::If"][1]["Statement"][0]["Resource"]
                == json!({"Ref": "EventsKinesisStreamArn"})
    });
    assert!(reads_kinesis, "{policies:?}");
    // An SQS queue: its own mapping, reporting failed messages, reading just that queue.
    let queue = &template["Resources"]["EventsSqsMapping"];
    assert_eq!(queue["Condition"], "HasEventsSqsQueue");
    assert_eq!(
        queue["Properties"]["EventSourceArn"],
        json!({"Ref": "EventsSqsQueueArn"})
    );
    assert_eq!(
        queue["Properties"]["FunctionResponseTypes"],
        json!(["ReportBatchItemFailures"])
    );
    assert!(
        queue["Properties"]["BatchSize"].as_u64().unwrap() <= 10,
        "FIFO's most"
    );
    let reads_the_queue = policies.iter().any(|p| {
        p["Fn::If"][0] == "HasEventsSqsQueue"
            && p["Fn::If"][1]["Statement"][0]["Action"]
                .as_array()
                .is_some_and(|actions| actions.contains(&json!("sqs:DeleteMessage")))
    });
    assert!(reads_the_queue, "{policies:?}");
    // Other functions read no stream.
    let desk = &template["Resources"]["DeskFunction"]["Properties"]["Policies"];
    assert_eq!(desk.as_array().unwrap().len(), 1);
}

#[test]
fn logical_ids_are_pascal_case_bin_names() {
    assert_eq!(
        function("order-function", None, &[], false).logical_id(),
        "OrderFunction"
    );
    assert_eq!(
        function("my_app-2", None, &[], false).logical_id(),
        "MyApp2"
    );
}

#[test]
fn each_function_may_send_to_exactly_the_channels_its_actor_emits_to() {
    let mut functions = saga();
    functions[0].manifest.emits_to = Some(vec!["shipping".into(), "order-audit".into()]);
    functions[1].manifest.emits_to = Some(vec!["shipping".into()]);
    let template = template(&functions, &args()).unwrap();
    let parameters = &template["Parameters"];
    assert!(parameters["ChannelShipping"]["AllowedPattern"].is_string());
    assert!(parameters["ChannelOrderAudit"]["Description"]
        .as_str()
        .unwrap()
        .contains("ctx.emit(\"order-audit\""));
    let order = &template["Resources"]["OrderFunction"]["Properties"];
    assert_eq!(
        order["Environment"]["Variables"]["MQLESS_CHANNELS"],
        json!({"Fn::Sub": "order-audit=${ChannelOrderAudit},shipping=${ChannelShipping}"})
    );
    let emits = statement(&template, "OrderFunction", "ChannelsItEmitsTo");
    assert_eq!(
        emits["Resource"],
        json!([{"Ref": "ChannelOrderAudit"}, {"Ref": "ChannelShipping"}])
    );
    let warehouse = statement(&template, "WarehouseFunction", "ChannelsItEmitsTo");
    assert_eq!(warehouse["Resource"], json!([{"Ref": "ChannelShipping"}]));
    // A function whose actor emits nothing gets neither.
    assert_eq!(
        statement(&template, "WalletFunction", "ChannelsItEmitsTo"),
        Json::Null
    );
    assert!(
        template["Resources"]["WalletFunction"]["Properties"]["Environment"]["Variables"]
            .get("MQLESS_CHANNELS")
            .is_none()
    );
}

#[test]
fn each_named_event_bus_gets_a_rule_to_the_events_function() {
    let mut events = function("events-function", Some("mqless-topic"), &["Mailer"], false);
    events.manifest.events = true;
    let functions = vec![
        function("mailer-function", Some("Mailer"), &[], false),
        events,
    ];
    let mut args = args();
    args.event_buses = vec!["default".into(), "orders.eu-1".into()];
    let generated = template(&functions, &args).unwrap();
    let rule = &generated["Resources"]["EventsRuleOrdersEu1"];
    assert_eq!(rule["Type"], "AWS::Events::Rule");
    assert_eq!(rule["Properties"]["EventBusName"], "orders.eu-1");
    assert_eq!(
        rule["Properties"]["Targets"][0]["Arn"],
        json!({"Fn::GetAtt": ["EventsFunction", "Arn"]})
    );
    // MQLess's own emissions to the bus are left out: an actor does not feed itself.
    assert_eq!(
        rule["Properties"]["EventPattern"]["source"][0]["anything-but"]["prefix"],
        "mqless."
    );
    let permission = &generated["Resources"]["EventsRuleDefaultPermission"]["Properties"];
    assert_eq!(permission["Principal"], "events.amazonaws.com");
    assert_eq!(
        permission["SourceArn"],
        json!({"Fn::GetAtt": ["EventsRuleDefault", "Arn"]})
    );

    // Without the events function, or with a name that is not a bus's, it says so.
    let error = template(&saga(), &args).unwrap_err();
    assert!(error.contains("needs the events function"), "{error}");
    let mut functions = functions;
    functions.truncate(2);
    args.event_buses = vec!["no spaces".into()];
    let error = template(&functions, &args).unwrap_err();
    assert!(error.contains("not an event bus name"), "{error}");
}

#[test]
fn a_client_policy_of_its_own_names_types_the_stack_runs() {
    let mut args = args();
    args.key_layout = Some(mqless_runtime::aws::KeyLayout::V2);
    args.clients = vec!["Shop=Order".into(), "Billing=Wallet, Order".into()];
    let generated = template(&saga(), &args).unwrap();
    let billing = &generated["Resources"]["BillingClientPolicy"]["Properties"];
    assert_eq!(
        billing["Description"],
        "Send to the MQLess actors Order, Wallet of this stack"
    );
    assert_eq!(
        generated["Outputs"]["ShopClientPolicyArn"]["Value"],
        json!({"Ref": "ShopClientPolicy"})
    );
    let wakes = billing["PolicyDocument"]["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == "WakeActors")
        .unwrap()["Resource"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(wakes, 2, "the order's and the wallet's functions only");

    for (flag, says) in [
        ("Shop", "write NAME=Type"),
        ("shop-1=Order", "ASCII letters and digits"),
        ("1Shop=Order", "starting with a letter"),
        ("Shop=Basket", "no function of this stack runs `Basket`"),
    ] {
        args.clients = vec![flag.into()];
        let error = template(&saga(), &args).unwrap_err();
        assert!(error.contains(says), "{flag}: {error}");
    }
    args.clients = vec!["Shop=Order".into(), "Shop=Wallet".into()];
    let error = template(&saga(), &args).unwrap_err();
    assert!(error.contains("given twice"), "{error}");
}
