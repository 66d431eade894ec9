using System.Diagnostics.Metrics;

namespace Switchboard.Sessions;

/// <summary>
/// Switchboard's instruments (meter <c>Switchboard</c>), exported by whatever listens:
/// OpenTelemetry's Prometheus exporter at <c>/metrics</c> in the server. Counters on the fan-out
/// path are added once per publication (with the number of deliveries), not once per client.
/// </summary>
internal sealed class NodeMetrics : IDisposable
{
    public const string MeterName = "Switchboard";

    private readonly Meter _meter;
    private readonly Counter<long> _recoveries;
    private readonly Counter<long> _connects;
    private readonly Counter<long> _disconnects;
    private readonly Counter<long> _slowDisconnects;
    private readonly Counter<long> _commands;
    private readonly Histogram<double> _commandDuration;
    private readonly Counter<long> _publicationsIn;
    private readonly Counter<long> _publicationsOut;
    private readonly Counter<long> _bytesIn;
    private readonly Counter<long> _bytesOut;
    private readonly Counter<long> _refusedConnections;
    private readonly Counter<long> _resubscribes;

    public NodeMetrics(IMeterFactory meterFactory)
    {
        _meter = meterFactory.Create(MeterName);
        _recoveries = _meter.CreateCounter<long>("switchboard.recoveries", description: "Subscription recoveries by outcome");
        _connects = _meter.CreateCounter<long>("switchboard.connects", description: "Successful connects by transport");
        _disconnects = _meter.CreateCounter<long>("switchboard.disconnects", description: "Disconnects by code");
        _slowDisconnects = _meter.CreateCounter<long>("switchboard.slow_client.disconnects", description: "Clients closed for not reading fast enough (3008)");
        _commands = _meter.CreateCounter<long>("switchboard.commands", description: "Client commands by method and result");
        _commandDuration = _meter.CreateHistogram<double>("switchboard.command.duration", unit: "s", description: "Time to handle a client command",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1] });
        _publicationsIn = _meter.CreateCounter<long>("switchboard.publications.in", description: "Publications accepted, by source (client, api)");
        _publicationsOut = _meter.CreateCounter<long>("switchboard.publications.out", description: "Publications queued to local subscribers");
        _bytesIn = _meter.CreateCounter<long>("switchboard.transport.bytes.in", unit: "By", description: "Bytes received from clients, by transport");
        _bytesOut = _meter.CreateCounter<long>("switchboard.transport.bytes.out", unit: "By", description: "Bytes written to clients, by transport");
        _refusedConnections = _meter.CreateCounter<long>("switchboard.connections.refused", description: "Connection attempts refused (draining, node connection cap), by reason");
        _resubscribes = _meter.CreateCounter<long>("switchboard.resubscribes", description: "Subscriptions told to resubscribe and recover (unsubscribe 2500), by reason (gap, epoch, interrupted)");
    }

    public void Observe(Node node)
    {
        _meter.CreateObservableGauge("switchboard.connections", () => node.ConnectionsByTransport(), description: "Open connections by transport");
        _meter.CreateObservableGauge("switchboard.subscriptions", () => node.Hub.SubscriptionCount, description: "Channel subscriptions on this node");
        _meter.CreateObservableGauge("switchboard.channels", () => node.Hub.ChannelCount, description: "Channels with local subscribers");
        _meter.CreateObservableGauge("switchboard.queue.bytes", () => node.QueuedBytes().Total, unit: "By", description: "Bytes waiting in all outbound queues");
        _meter.CreateObservableGauge("switchboard.queue.max_bytes", () => node.QueuedBytes().Max, unit: "By", description: "Bytes waiting in the fullest outbound queue");
    }

    public void Recovery(bool recovered)
        => _recoveries.Add(1, new KeyValuePair<string, object?>("outcome", recovered ? "recovered" : "not_recovered"));

    public void Connected(string transport) => _connects.Add(1, new KeyValuePair<string, object?>("transport", transport));

    public void Disconnected(int code)
    {
        _disconnects.Add(1, new KeyValuePair<string, object?>("code", code));
        if (code == Protocol.DisconnectCodes.Slow)
        {
            _slowDisconnects.Add(1);
        }
    }

    public void Command(string method, string result, double seconds)
    {
        _commands.Add(1, new KeyValuePair<string, object?>("method", method), new KeyValuePair<string, object?>("result", result));
        _commandDuration.Record(seconds, new KeyValuePair<string, object?>("method", method));
    }

    public void PublicationIn(string source) => _publicationsIn.Add(1, new KeyValuePair<string, object?>("source", source));

    public void PublicationsOut(int deliveries) => _publicationsOut.Add(deliveries);

    public void BytesIn(string transport, long bytes) => _bytesIn.Add(bytes, new KeyValuePair<string, object?>("transport", transport));

    public void BytesOut(string transport, long bytes) => _bytesOut.Add(bytes, new KeyValuePair<string, object?>("transport", transport));

    public void Refused(string reason) => _refusedConnections.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void Resubscribe(string reason) => _resubscribes.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void Dispose() => _meter.Dispose();
}
